"""Load topic files (`config/rules/<id>.toml`) into one compiled `RuleSet`.

All problems in all files are collected before raising, one message each, so an
analyst fixes a whole edit in one go.  Query errors are re-anchored from the
query string to the line and column of the TOML file, because that is the file
the analyst has open.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crawler.models import Document
from crawler.rules.engine import Example, Query, RuleSet, Topic, compile_query
from crawler.rules.nodes import forget_shared
from crawler.rules.parser import RulesSyntaxError, format_error, parse_query, parse_tree
from crawler.settings import ConfigError, load_toml, read_config_bytes

__all__ = ["load_topics", "topic_from_query"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ExampleModel(_Model):
    text: str
    title: str = ""


class _ExamplesModel(_Model):
    match: list[str | _ExampleModel] = []
    no_match: list[str | _ExampleModel] = []


class _NotifyModel(_Model):
    urls: list[str] = []
    mode: Literal["immediate", "digest", "off"] | None = None


class _TopicModel(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str = ""
    description: str = ""
    query: str
    exclude: str | None = None
    terms: dict[str, str] = {}
    """Named term lists, used in queries as `@name`."""
    notify: _NotifyModel = _NotifyModel()
    examples: _ExamplesModel = _ExamplesModel()


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "_ExampleModel"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _locate_value(raw: str, key: str, value: str) -> int | None:
    """Offset in the file where the string value of `key` starts, if it maps one-to-one.

    `key` is top-level (`query`) or in a table (`terms.india`).
    """
    base = 0
    if "." in key:
        table, key = key.split(".", 1)
        section = re.search(rf"^\s*\[{re.escape(table)}\][ \t]*$", raw, re.M)
        if not section:
            return None
        base = section.end()
    header = re.search(r"^\s*\[", raw[base:], re.M)
    limit = base + header.start() if header else len(raw)
    m = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=[ \t]*", raw[base:limit], re.M)
    if not m:
        return None
    pos = base + m.end()
    for delim in ('"""', "'''", '"', "'"):
        if raw.startswith(delim, pos):
            pos += len(delim)
            if len(delim) == 3:
                if raw.startswith("\r\n", pos):
                    pos += 2
                elif raw.startswith("\n", pos):
                    pos += 1
            break
    else:
        return None
    return pos if raw[pos:pos + len(value)] == value else None


def _query_problem(path: Path, raw: str, key: str, err: RulesSyntaxError) -> str:
    start = _locate_value(raw, key, err.text)
    if start is not None:
        return format_error(str(path), raw, start + err.offset, f"{key}: {err.message}")
    # Escapes make the string differ from the file text: point into the query itself.
    key_line = raw[: raw.find(f"{key}")].count("\n") + 1 if key in raw else 1
    return format_error(str(path), err.text, err.offset, f"{key}: {err.message}",
                        line_no=key_line + err.line - 1, col_no=err.column)


def _example(e: str | _ExampleModel) -> Example:
    return Example(text=e) if isinstance(e, str) else Example(text=e.text, title=e.title)


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def _first_failure(tree: dict[str, Any]) -> str:
    """The innermost failing clause along the first failing path (what to tell the analyst)."""
    node = tree
    while node.get("children"):
        failing = [c for c in node["children"] if not c["held"]]
        if not failing or node["op"] in ("OR", "NOT", "ATLEAST"):
            break
        node = failing[0]
    text = str(node["text"])
    return text if len(text) <= 100 else text[:99] + "…"


def _check_examples(path: Path, topic: Topic) -> list[str]:
    problems = []
    rs = RuleSet([topic])
    for kind, examples, want in (("match", topic.examples_match, True),
                                 ("no_match", topic.examples_no_match, False)):
        for i, ex in enumerate(examples):
            doc: Document = ex.document()
            if bool(rs.matching_ids(doc)) == want:
                continue  # the common case, on every start: no clause tree is needed to say so
            exp = rs.explain(doc, topic.id)
            if want and exp["excluded"]:
                why = f"it matches the exclude query ({_first_failure_held(exp['exclude_clauses'])})"
            elif want:
                why = f"clause not satisfied: {_first_failure(exp['clauses'])}"
            else:
                why = "matched terms: " + ", ".join(exp["matched_terms"])
            verb = "does not match" if want else "matches"
            problems.append(f"{path}: examples.{kind}[{i}] {_short(ex.text)} {verb} the topic ({why})")
    return problems


def _first_failure_held(tree: dict[str, Any] | None) -> str:
    return str(tree["text"]) if tree else ""


def topic_from_query(text: str, topic_id: str = "query") -> Topic:
    """An unnamed topic around one query (for `rules test`)."""
    try:
        return Topic(id=topic_id, query=compile_query(text), name=topic_id)
    finally:
        forget_shared()


def _load_one(path: Path) -> tuple[Topic | None, list[str]]:
    try:
        raw = read_config_bytes(path).decode("utf-8")
    except FileNotFoundError:
        return None, [f"{path}: rules file not found"]
    except UnicodeDecodeError as exc:
        return None, [f"{path}: not UTF-8 text (byte {exc.start})"]
    except OSError as exc:
        return None, [f"{path}: cannot read: {exc.strerror}"]
    try:
        data = load_toml(raw)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{path}: TOML syntax error: {exc}"]
    try:
        model = _TopicModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                msg = "unknown key (check its spelling)"
            elif err.get("type") == "missing":
                msg = "required key is missing"
            elif err.get("type") == "string_pattern_mismatch":
                msg = "use lower-case letters, digits, '-', '_' or '.'"
            problems.append(f"{path}: {_loc(err['loc']) or '(top level)'}: {msg}")
        return None, list(dict.fromkeys(problems))
    problems: list[str] = []
    lists: dict[str, tuple[str, Any]] = {}
    for name, text in model.terms.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            problems.append(f"{path}: terms.{name}: a term list's name is letters, digits and '_', "
                            "starting with a letter")
            continue
        try:
            lists[name] = (text, parse_tree(text))
        except RulesSyntaxError as err:
            problems.append(_query_problem(path, raw, f"terms.{name}", err))
    if problems:
        return None, problems
    compiled: dict[str, str] = {}
    for name, (text, _) in lists.items():  # names and terms inside each list, on its own
        try:
            compiled[name] = str(parse_query(text, lists))
        except RulesSyntaxError as err:
            problems.append(_query_problem(path, raw, f"terms.{name}", err))
    queries: dict[str, Query | None] = {"query": None, "exclude": None}
    for key in ("query", "exclude"):
        text = getattr(model, key)
        if text is None:
            continue
        try:
            queries[key] = compile_query(text, lists)
        except RulesSyntaxError as err:
            problems.append(_query_problem(path, raw, key, err))
    if problems:
        return None, problems
    query = queries["query"]
    assert query is not None
    topic = Topic(
        id=model.id, name=model.name or model.id, description=model.description.strip(),
        query=query, exclude=queries["exclude"], term_lists=compiled,
        notify_urls=list(model.notify.urls), notify_mode=model.notify.mode,
        examples_match=[_example(e) for e in model.examples.match],
        examples_no_match=[_example(e) for e in model.examples.no_match],
        path=path,
    )
    return topic, _check_examples(path, topic)


def load_topics(paths: list[Path]) -> RuleSet:
    """Read, compile and check every topic file; raise `ConfigError` listing every problem."""
    topics: list[Topic] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in paths:
        path = Path(path)
        topic, errs = _load_one(path)
        problems.extend(errs)
        if topic is None:
            continue
        if topic.id in seen:
            problems.append(f"{path}: id: {topic.id!r} is already the id of the topic in {seen[topic.id]}")
            continue
        seen[topic.id] = path
        topics.append(topic)
    try:
        if problems:
            raise ConfigError(problems)
        return RuleSet(topics)
    finally:
        forget_shared()
