"""The rules engine: topic queries compiled once, matched against every article.

Public surface (used by the pipeline, the CLI and the review app):
`load_topics` reads `config/rules/*.toml`; `RuleSet.match(doc)` flags a document
with explanations; `RuleSet.explain` says why a document did or did not match;
`evaluate` measures a rule set against labelled articles.  The query language is
described in `crawler/rules/README.md`.
"""

from __future__ import annotations

from crawler.rules.engine import Example, Query, RuleSet, Topic, compile_query
from crawler.rules.evaluate import evaluate, read_labelled
from crawler.rules.parser import RulesSyntaxError
from crawler.rules.text import normalise, spans_tokens
from crawler.rules.topics import load_topics, topic_from_query

__all__ = [
    "Example",
    "Query",
    "RuleSet",
    "RulesSyntaxError",
    "Topic",
    "compile_query",
    "evaluate",
    "load_topics",
    "normalise",
    "read_labelled",
    "spans_tokens",
    "topic_from_query",
]
