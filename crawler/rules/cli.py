"""`newswatch rules …`: the analyst's tools for writing and measuring topics.

`test` and `eval` need no storage; `explain`, `backtest` and `stats` (which read
stored articles and reviews) are added to `rules_app` by the CLI that mounts it.
Any invalid config or rules file is reported one problem per line on stderr with
exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from crawler.models import Document
from crawler.rules.engine import RuleSet
from crawler.rules.evaluate import evaluate, read_labelled
from crawler.rules.topics import load_topics, topic_from_query
from crawler.settings import ConfigError, load_settings

__all__ = ["clause_tree", "fail", "highlighted", "load_ruleset", "rules_app"]

rules_app = typer.Typer(
    name="rules",
    help="Write, test and measure topic rules.",
    no_args_is_help=True,
    add_completion=False,
)


def fail(problems: list[str], code: int = 2) -> NoReturn:
    """Print each problem on stderr and exit (status 2: a usage or config problem)."""
    for p in problems:
        typer.echo(p, err=True)
    raise typer.Exit(code)


def load_ruleset(config: Path | None, rules: list[Path] | None = None) -> RuleSet:
    """The topics named by `--rules` files, else by the config's `[rules] files`."""
    if rules:
        return load_topics(list(rules))
    loaded = load_settings(config)
    return load_topics(loaded.rule_files())


def highlighted(text: str, hits: list[dict[str, Any]], field: str) -> Text:
    """`text` with the hits of one field in bold yellow (offsets are into the original string)."""
    out = Text(text)
    for h in hits:
        if h["field"] == field:
            out.stylize("bold black on yellow", h["start"], h["end"])
    return out


def clause_tree(node: dict[str, Any], tree: Tree | None = None) -> Tree:
    """A Rich tree of clauses, green where they held and red where they failed."""
    mark = "[green]✓[/green]" if node["held"] else "[red]✗[/red]"
    label = node["op"] if node["op"] != "term" else ""
    extra = f" ×{node['count']}" if node.get("count") else ""
    text = node["text"] if node["op"] == "term" else f"{label}: {node['text']}"
    line = f"{mark} {_escape(text)}{extra}"
    branch = tree.add(line) if tree is not None else Tree(line)
    for child in node.get("children", []):
        clause_tree(child, branch)
    return branch


def _escape(s: str) -> str:
    return s.replace("[", r"\[")


@rules_app.command("test")
def test_cmd(
    query: str = typer.Argument(..., help="A query, e.g. '(india OR delhi) NEAR/15 backchannel'."),
    text: str | None = typer.Option(None, "--text", "-t", help="Text to match (treated as the body)."),
    file: Path | None = typer.Option(None, "--file", "-f", help="A text file to match (its body)."),
    url: str | None = typer.Option(None, "--url", "-u", help="An article page to fetch and extract."),
    title: str = typer.Option("", "--title", help="A title to match with the text."),
    as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON."),
    config: Path | None = typer.Option(None, "--config", "-c", help="newswatch.toml (HTTP settings for --url)."),
) -> None:
    """Match one query against a text, a file or a page: match or not, highlighted terms, clause tree."""
    if sum(x is not None for x in (text, file, url)) != 1:
        fail(["give exactly one of --text, --file or --url"])
    if url is not None:
        text, page_title = _fetch_article(url, config)
        title = title or page_title
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            fail([f"{file}: cannot read: {exc.strerror}"])
    assert text is not None
    try:
        topic = topic_from_query(query)
    except ConfigError as exc:
        fail(exc.problems)
    rs = RuleSet([topic])
    exp = rs.explain(Document(title=title, body=text), topic.id)
    if as_json:
        typer.echo(json.dumps(exp, ensure_ascii=False, indent=2))
        return
    console = Console()
    verdict = "[bold green]MATCH[/]" if exp["matched"] else "[bold red]NO MATCH[/]"
    console.print(f"{verdict}  score {exp['score']}  terms: {', '.join(exp['matched_terms']) or '-'}")
    if title:
        console.print(highlighted(title, exp["hits"], "title"))
    console.print(highlighted(text, exp["hits"], "body"))
    console.print(clause_tree(exp["clauses"]))


def _fetch_article(url: str, config: Path | None) -> tuple[str, str]:
    """Fetch and extract a page the way the daemon would; the config's HTTP settings apply."""
    from crawler.extract import extract
    from crawler.fetch import FetchError, fetch_page
    from crawler.settings import HttpSettings

    try:
        http = load_settings(config).settings.http
    except ConfigError:
        http = HttpSettings()
    try:
        page = fetch_page(url, http)
    except FetchError as exc:
        fail([f"{url}: {exc}"], 1)
    body, final, ctype = page.body, page.url, page.content_type
    article = extract(body, final, content_type=ctype)
    if not article.text:
        fail([f"{url}: no article text found on the page"], 1)
    return article.text, article.title


@rules_app.command("eval")
def eval_cmd(
    labelled: Path = typer.Argument(..., help="JSON lines: title, text, label 1/0 (others skipped)."),
    topic: str | None = typer.Option(None, "--topic", help="Only this topic id."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    config: Path | None = typer.Option(None, "--config", "-c", help="newswatch.toml to read rules from."),
    rules: list[Path] | None = typer.Option(None, "--rules", help="Topic files to use instead of the config's."),
) -> None:
    """Precision, recall and F1 of the topics against labelled articles."""
    try:
        rs = load_ruleset(config, rules)
    except ConfigError as exc:
        fail(exc.problems)
    if topic is not None and topic not in {t.id for t in rs.topics}:
        fail([f"--topic: no topic {topic!r} (topics: {', '.join(t.id for t in rs.topics) or 'none'})"])
    try:
        result = evaluate(rs, list(read_labelled(labelled)), topic)
    except FileNotFoundError:
        fail([f"{labelled}: file not found"])
    except (ValueError, UnicodeDecodeError) as exc:
        fail([str(exc)])
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    console = Console()
    table = Table(title=f"{labelled} — rules {rs.version}")
    for col in ("topic", "precision", "recall", "F1", "TP", "FP", "FN", "TN"):
        table.add_column(col, justify="left" if col == "topic" else "right")
    for t in result["topics"]:
        table.add_row(t["topic"], f"{t['precision']:.3f}", f"{t['recall']:.3f}", f"{t['f1']:.3f}",
                      str(t["tp"]), str(t["fp"]), str(t["fn"]), str(t["tn"]))
    console.print(table)
    for t in result["topics"]:
        for kind, key in (("false positive", "false_positives"), ("false negative", "false_negatives")):
            for title in t[key]:
                console.print(f"  {t['topic']}: {kind}: {title}", markup=False, highlight=False)
    if result["skipped"]:
        console.print(f"skipped {result['skipped']} row(s) labelled neither 1 nor 0")


if __name__ == "__main__":  # pragma: no cover
    rules_app(sys.argv[1:])
