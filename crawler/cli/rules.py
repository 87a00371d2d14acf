"""`newswatch rules …`: the analyst's tools for writing and measuring topics.

`test` and `eval` need no storage; `explain`, `backtest` and `stats` read stored
articles and reviews (the logic of the last two is in `crawler.rules.backtest`).
Any invalid config or rules file is reported one problem per line on stderr with
exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from ..models import Document, document_of
from ..rules.backtest import backtest, term_stats
from ..rules.engine import RuleSet
from ..rules.evaluate import evaluate, read_labelled
from ..rules.topics import load_topics, topic_from_query
from ..settings import ConfigError, LoadedConfig, load_settings, parse_since
from .common import (
    Console,
    Table,
    Tree,
    escape,
    fail,
    highlighted,
    load_config,
    open_store,
    scrape_or_fail,
)

__all__ = ["clause_label", "clause_tree", "load_ruleset", "rules_app", "scopes_line"]

rules_app = typer.Typer(
    name="rules",
    help="Write, test and measure topic rules.",
    no_args_is_help=True,
    add_completion=False,
)


StoreConfigOpt = typer.Option(None, "--config", "-c", help="newswatch.toml (storage and rules).")


def load_ruleset(config: Path | None, rules: list[Path] | None = None) -> RuleSet:
    """The topics named by `--rules` files, else by the config's `[rules] files`."""
    if rules:
        return load_topics(list(rules))
    loaded = load_settings(config)
    return load_topics(loaded.rule_files())


_HOW = {
    "AND": "all of these",
    "OR": "at least one of these",
    "NOT": "not this",
}


def _words(n: int) -> str:
    return f"{n} word{'s' if n != 1 else ''}"


def _found(count: int | None) -> str:
    if not count:
        return "not found"
    return f"found {count} time{'s' if count != 1 else ''}"


def clause_label(node: dict[str, Any]) -> str:
    """One clause in plain words: what it asks for and what was found, without the query's operators."""
    op = node["op"]
    if op == "term":
        return f"{node['text']} — {_found(node.get('count'))}"
    if op in _HOW:
        return _HOW[op]
    if op in ("NEAR", "ONEAR"):
        how = "in this order, " if op == "ONEAR" else ""
        where = f"in one {node['within']}, " if node.get("within") else ""
        return f"{where}{how}within {_words(node['distance'])} of each other — {_found(node.get('count'))}"
    if op == "ATLEAST":
        return f"at least {node['n']} of these — {node.get('count', 0)} held"
    if op == "COUNT":
        return f"mentioned at least {node['n']} times — {node.get('count', 0)} found"
    if op == "LIST":
        return f"any term of the list {node['text'].lstrip('@')}"
    return f"{op.lower()}: {node['text']}"  # an operator this renderer does not know yet: shown as written


def _term_group(node: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The terms of a clause that is only a choice of terms (a list, or ORs of plain terms), else None."""
    if node["op"] == "term":
        return [node]
    if node["op"] not in ("OR", "LIST"):
        return None
    terms: list[dict[str, Any]] = []
    for child in node.get("children", []):
        sub = _term_group(child)
        if sub is None:
            return None
        terms.extend(sub)
    return terms


_SCOPE = re.compile(r"^(\w+):(?=\S)")


def _group_label(node: dict[str, Any], terms: list[dict[str, Any]]) -> str:
    """A choice of terms on one line: which were found, out of how many, and in which scope."""
    texts = [t["text"] for t in terms]
    scopes = {m.group(1) if (m := _SCOPE.match(t)) else None for t in texts}
    where = ""
    if len(scopes) == 1 and (scope := scopes.pop()) is not None:
        texts = [t[len(scope) + 1:] for t in texts]
        where = f" in the {scope}"
    found = [t for t, term in zip(texts, terms, strict=True) if term["held"]]
    if node["op"] == "LIST":
        what = f"a term of the list “{node['text'].lstrip('@')}” ({len(terms)} terms){where}"
    elif len(terms) <= 4:
        what = f"one of {', '.join(texts)}{where}"
    else:
        what = f"one of {len(terms)} terms ({', '.join(texts[:3])}, …){where}"
    if not found:
        return f"{what} — none found"
    return f"{what} — found {', '.join(found[:6])}{', …' if len(found) > 6 else ''}"


def clause_tree(node: dict[str, Any], tree: Tree | None = None) -> Tree:
    """The clauses as a Rich tree in plain words, green where they held and red where they failed.

    A choice of plain terms (a term list, `a OR b OR c`) is one line naming what was
    found, so a topic with long lists stays readable; `--json` has every clause.
    """
    mark = "[green]✓[/green]" if node["held"] else "[red]✗[/red]"
    terms = _term_group(node) if node["op"] != "term" else None
    children = node.get("children", [])
    if node["op"] == "LIST" and not terms and len(children) == 1 and children[0]["op"] == "OR":
        children = children[0]["children"]  # "a term of the list" already says "one of these"
        label = f"a term of the list “{node['text'].lstrip('@')}”, one of these"
    else:
        label = _group_label(node, terms) if terms else clause_label(node)
    branch = tree.add(f"{mark} {escape(label)}") if tree is not None else Tree(f"{mark} {escape(label)}")
    if terms:
        return branch
    if node["op"] in ("OR", "LIST") or children is not node.get("children"):
        plain = [c for c in children if c["op"] == "term"]
        if len(plain) > 1:  # the plain terms among other clauses: one line for them all
            group = {"op": "OR", "text": "", "held": any(c["held"] for c in plain), "children": plain}
            branch.add(f"{'[green]✓[/green]' if group['held'] else '[red]✗[/red]'} "
                       f"{escape(_group_label(group, plain))}")
            children = [c for c in children if c["op"] != "term"]
    for child in children:
        clause_tree(child, branch)
    return branch


def scopes_line(exp: dict[str, Any], fields: tuple[str, ...] = ("title", "body")) -> str:
    """Where the topic's terms were found, per scope (`title:`, `body:` and any other a term names)."""
    per: dict[str, list[str]] = {f: [] for f in fields}
    for node in _walk(exp["clauses"]):
        if node["op"] == "term":
            for scope in re.findall(r"(?:^|\s)(\w+):", node["text"]):
                per.setdefault(scope, [])
    for h in exp["hits"]:
        per.setdefault(h["field"], []).append(h["term"])
    parts = []
    for scope, terms in per.items():
        distinct = list(dict.fromkeys(terms))
        found = (f"{len(terms)} hit{'s' if len(terms) != 1 else ''} ({', '.join(distinct[:5])}"
                 f"{', …' if len(distinct) > 5 else ''})") if terms else "no hits"
        parts.append(f"{scope}: {found}")
    return " · ".join(parts)


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("children", []) for n in _walk(child))]


def print_explanation(console: Console, exp: dict[str, Any]) -> None:
    """The clause tree and, for a topic with one, the exclude clause."""
    console.print(clause_tree(exp["clauses"]))
    if exp.get("exclude_clauses"):
        held = exp["exclude_clauses"]["held"]
        console.print("[yellow]excluded, because this held:[/yellow]" if held
                      else "[dim]not excluded, because this did not hold:[/dim]")
        console.print(clause_tree(exp["exclude_clauses"]))


@rules_app.command("test")
def test_cmd(
    query: str | None = typer.Argument(None, help="A query, e.g. '(india OR delhi) NEAR/15 backchannel'."),
    topic_id: str | None = typer.Option(None, "--topic", help="Test a whole configured topic (its term "
                                        "lists and exclude) instead of a query."),
    text: str | None = typer.Option(None, "--text", "-t", help="Text to match (treated as the body)."),
    file: Path | None = typer.Option(None, "--file", "-f", help="A text file to match (its body)."),
    url: str | None = typer.Option(None, "--url", "-u", help="An article page to fetch and extract."),
    title: str = typer.Option("", "--title", help="A title to match with the text."),
    as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON."),
    config: Path | None = typer.Option(None, "--config", "-c", help="newswatch.toml (rules for --topic, "
                                       "HTTP settings for --url)."),
    rules: list[Path] | None = typer.Option(None, "--rules", help="Topic files for --topic instead of the config's."),
) -> None:
    """Match a query, or a whole topic, against a text, a file or a page: verdict, highlighted terms, clauses.

    Like grep, exits 0 on a match, 1 on no match, and 2 on an error (a bad query,
    config or topic, a file that cannot be read, a page that cannot be fetched).
    """
    if (query is None) == (topic_id is None):
        fail(["give a query or --topic ID (one of them)"])
    if sum(x is not None for x in (text, file, url)) != 1:
        fail(["give exactly one of --text, --file or --url"])
    if topic_id is not None:
        try:
            rs = load_ruleset(config, rules)
        except ConfigError as exc:
            fail(exc.problems)
        ids = [t.id for t in rs.topics]
        if topic_id not in ids:
            fail([f"--topic: no topic {topic_id!r} (topics: {', '.join(ids) or 'none'})"])
    else:
        assert query is not None
        try:
            rs = RuleSet([topic_from_query(query)])
        except ConfigError as exc:
            fail(exc.problems)
        topic_id = rs.topics[0].id
    if url is not None:
        text, page_title = _fetch_article(url, config)
        title = title or page_title
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail([f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}"])
    assert text is not None
    exp = rs.explain(Document(title=title, body=text), topic_id)
    if as_json:
        typer.echo(json.dumps(exp, ensure_ascii=False, indent=2))
        raise typer.Exit(0 if exp["matched"] else 1)
    console = Console()
    verdict = "[bold green]MATCH[/]" if exp["matched"] else "[bold red]NO MATCH[/]"
    if exp["query_held"] and exp["excluded"]:
        verdict += " [yellow](the query held, but the exclude clause removed it)[/]"
    name = f"topic [bold]{escape(topic_id)}[/bold]  " if query is None else ""
    console.print(f"{verdict}  {name}score {exp['score']}  terms: "
                  f"{escape(', '.join(exp['matched_terms']) or '-')}")
    console.print(f"[dim]{escape(scopes_line(exp))}[/dim]")
    if title:
        console.print(highlighted(title, exp["hits"], "title"))
    console.print(highlighted(text, exp["hits"], "body"))
    print_explanation(console, exp)
    raise typer.Exit(0 if exp["matched"] else 1)


def _fetch_article(url: str, config: Path | None) -> tuple[str, str]:
    """Fetch and extract a page the way the daemon would: the config's HTTP settings and site profiles."""
    try:
        loaded: LoadedConfig | None = load_settings(config)
    except ConfigError:
        loaded = None
    page = scrape_or_fail(url, loaded, code=2)
    if page.error or page.article is None:
        fail([f"{url}: {page.error}"])
    return page.article.text, page.article.title


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
    table = Table(title=f"{escape(str(labelled))} — rules {rs.version}")
    for col in ("topic", "precision", "recall", "F1", "TP", "FP", "FN", "TN"):
        table.add_column(col, justify="left" if col == "topic" else "right")
    for t in result["topics"]:
        table.add_row(escape(t["topic"]), f"{t['precision']:.3f}", f"{t['recall']:.3f}", f"{t['f1']:.3f}",
                      str(t["tp"]), str(t["fp"]), str(t["fn"]), str(t["tn"]))
    console.print(table)
    for t in result["topics"]:
        for kind, key in (("false positive", "false_positives"), ("false negative", "false_negatives")):
            for title in t[key]:
                console.print(f"  {t['topic']}: {kind}: {title}", markup=False, highlight=False)
    if result["skipped"]:
        console.print(f"skipped {result['skipped']} row(s) labelled neither 1 nor 0")


def _rules(loaded: LoadedConfig, rules: list[Path] | None) -> RuleSet:
    paths: list[Path] | None = None
    if rules:
        paths = []
        for p in rules:
            paths.extend(sorted(p.glob("*.toml")) if p.is_dir() else [p])
        if not paths:
            fail([f"--rules: no .toml files in {', '.join(map(str, rules))}"])
    try:
        return load_ruleset(loaded.path, paths)
    except ConfigError as exc:
        fail(exc.problems)


@rules_app.command("explain")
def explain_cmd(
    article_id: int = typer.Argument(..., help="A stored article's id (as `review list` prints it)."),
    topic: str | None = typer.Option(None, "--topic", help="Only this topic (default: every topic)."),
    full: bool = typer.Option(False, "--full", help="Print the whole text, not only the snippets."),
    as_json: bool = typer.Option(False, "--json", help="Print the explanations as JSON."),
    config: Path | None = StoreConfigOpt,
) -> None:
    """Why a stored article matched a topic, or which clause failed."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        art = store.get_article(article_id)
    if art is None:
        fail([f"no article with id {article_id}"], 1)
    rs = _rules(loaded, None)
    ids = [t.id for t in rs.topics]
    if topic is not None and topic not in ids:
        fail([f"--topic: no topic {topic!r} (topics: {', '.join(ids)})"])
    doc = document_of(art)
    stored = {m.topic_id: m for m in art.matches}
    results = [rs.explain(doc, t) for t in ([topic] if topic else ids)]
    if as_json:
        typer.echo(json.dumps({"article": {"id": art.id, "title": art.title, "url": art.url},
                               "rules_version": rs.version,
                               "stored_matches": {k: {"rules_version": m.rules_version, "state": m.state}
                                                  for k, m in stored.items()},
                               "explanations": results}, ensure_ascii=False, indent=2, default=str))
        return
    console = Console()
    console.print(f"[bold]{escape(art.title)}[/bold]\n[dim]{escape(art.source or '')} · {escape(art.url)} · "
                  f"text from {art.text_from}[/dim]")
    for exp in results:
        verdict = "[bold green]MATCHES[/]" if exp["matched"] else "[bold red]DOES NOT MATCH[/]"
        if exp["query_held"] and exp["excluded"]:
            verdict += " [yellow](the query held, but the exclude clause removed it)[/]"
        console.print(f"\n{verdict} [bold]{escape(exp['topic'])}[/bold] under rules {rs.version}"
                      f" · score {exp['score']}")
        console.print(f"[dim]{escape(scopes_line(exp))}[/dim]")
        was = stored.get(exp["topic"])
        if was is not None:
            console.print(f"[dim]stored match: rules {was.rules_version}, {was.state}[/dim]")
        elif exp["matched"]:
            console.print("[dim]not flagged when stored (the rules have changed since): "
                          "`rules backtest --apply` would flag it[/dim]")
        console.print(highlighted(art.title, exp["hits"], "title"))
        if full:
            console.print(highlighted(art.text, exp["hits"], "body"))
        else:
            for snip in exp.get("snippets", {}).get("body", []):
                console.print("  …" + escape(snip if isinstance(snip, str) else snip.get("text", "")) + "…")
        print_explanation(console, exp)


@rules_app.command("backtest")
def backtest_cmd(
    since: str = typer.Option("30d", "--since", help="How far back: a duration (30d) or a date (2026-10-01); 'all' for everything."),
    rules: list[Path] | None = typer.Option(None, "--rules", help="Edited topic files or folders (default: the config's)."),
    apply: bool = typer.Option(False, "--apply", help="Write the new matches (marks on topics that still match are kept)."),
    as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
    config: Path | None = StoreConfigOpt,
) -> None:
    """Replay rules over stored articles and show what a change would newly flag or stop flagging."""
    since_dt: datetime | None = None
    if since != "all":
        try:
            since_dt = parse_since(since)
        except ValueError as exc:
            fail([f"--since: {exc}, or 'all'"])
    loaded = load_config(config)
    rs = _rules(loaded, rules)
    from rich.console import Console as RichConsole
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = RichConsole(stderr=True)
    with open_store(loaded) as store, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, transient=True, disable=as_json or not console.is_terminal) as progress:
        result = backtest(store, rs, since=since_dt, apply=apply, progress=progress)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    out = Console()
    scope = "all stored articles" if since_dt is None else f"articles fetched since {since_dt:%Y-%m-%d %H:%M} UTC"
    out.print(f"Replayed rules {rs.version} over {result['articles']} {scope}.")
    table = Table()
    for col in ("topic", "still flagged", "newly flagged", "no longer flagged"):
        table.add_column(col, justify="left" if col == "topic" else "right")
    for t in result["topics"]:
        table.add_row(escape(t["topic"]), str(t["still_flagged"]), f"[green]+{len(t['newly_flagged'])}[/green]",
                      f"[red]-{len(t['no_longer_flagged'])}[/red]")
    out.print(table)
    for t in result["topics"]:
        for key, sign, colour in (("newly_flagged", "+", "green"), ("no_longer_flagged", "-", "red")):
            for row in t[key]:
                out.print(f"[{colour}]{sign}[/{colour}] {escape(t['topic'])} #{row['id']} "
                          f"{escape(row['title'])} [dim]({escape(row['source'] or '')})[/dim]")
    if apply:
        out.print("[bold]Applied:[/bold] the stored matches now follow these rules.")
    elif any(t["newly_flagged"] or t["no_longer_flagged"] for t in result["topics"]):
        out.print("[dim]Nothing written. Run again with --apply to store these matches.[/dim]")


@rules_app.command("stats")
def stats_cmd(
    topic: str | None = typer.Option(None, "--topic", help="Only this topic."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    config: Path | None = StoreConfigOpt,
) -> None:
    """Per topic and per term, from reviewers' marks: hits, relevant, irrelevant, precision; and per
    clause, the relevant articles it lost (near misses reviewers marked relevant)."""
    with open_store(load_config(config)) as store:
        flagged = store.list_flagged(state="all", topic=topic)
        lost = store.lost_by_clause(topic)
    stats = term_stats(flagged)
    for t in stats:
        t["lost"] = [{"clause": c, "relevant_lost": n} for tid, c, n in lost if tid == t["topic"]]
    for tid in sorted({tid for tid, _, _ in lost} - {t["topic"] for t in stats}):
        stats.append({"topic": tid, "hits": 0, "relevant": 0, "irrelevant": 0, "unreviewed": 0, "precision": None,
                      "terms": [], "lost": [{"clause": c, "relevant_lost": n} for t2, c, n in lost if t2 == tid]})
    if as_json:
        typer.echo(json.dumps({"topics": stats}, ensure_ascii=False, indent=2))
        return
    console = Console()
    if not stats:
        console.print("No flagged articles yet.")
        return

    def pct(p: float | None) -> str:
        return "—" if p is None else f"{p:.2f}"

    for t in stats:
        console.print(f"[bold]{escape(t['topic'])}[/bold]: {t['hits']} flagged, {t['relevant']} relevant, "
                      f"{t['irrelevant']} irrelevant, {t['unreviewed']} unreviewed · precision {pct(t['precision'])}")
        table = Table(title="terms, false alarms first")
        for col in ("term", "hits", "relevant", "irrelevant", "precision"):
            table.add_column(col, justify="left" if col == "term" else "right")
        for r in t["terms"]:
            style = "red" if r["precision"] is not None and r["precision"] < 0.5 else ""
            table.add_row(escape(r["term"]), str(r["hits"]), str(r["relevant"]), str(r["irrelevant"]),
                          pct(r["precision"]), style=style)
        console.print(table)
        if t["lost"]:
            losses = Table(title="clauses that lose relevant articles (near misses marked relevant)")
            losses.add_column("clause")
            losses.add_column("relevant lost", justify="right")
            for r in t["lost"]:
                losses.add_row(escape(r["clause"]), str(r["relevant_lost"]))
            console.print(losses)
