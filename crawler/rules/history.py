"""`newswatch rules explain|backtest|stats`: tuning tools that read stored articles and reviews.

`backtest` is what makes a rules change safe: it replays edited topics over the
stored history and shows exactly which articles a change would newly flag or
stop flagging, before the daemon is reloaded (`--apply` writes the new matches).
`stats` turns reviewers' marks into per-term precision, to find the terms that
bring false alarms.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from crawler.models import Document, Match
from crawler.rules.cli import clause_tree, fail, highlighted, load_ruleset, rules_app
from crawler.rules.engine import RuleSet
from crawler.settings import ConfigError, LoadedConfig, load_settings, parse_since

__all__ = ["backtest", "document_of"]

ConfigOpt = typer.Option(None, "--config", "-c", help="newswatch.toml (storage and rules).")


def document_of(article: Any) -> Document:
    """The fields a topic sees, from a stored article (the same as at poll time)."""
    return Document(title=article.title, body=article.text, url=article.url,
                    source=article.source or "", authors=list(article.authors))


def _open(config: Path | None):  # -> tuple[LoadedConfig, Store]
    from storage import Store

    try:
        loaded = load_settings(config)
    except ConfigError as exc:
        fail(exc.problems)
    try:
        return loaded, Store.open(loaded.storage_url())
    except Exception as exc:  # any driver error is reported plainly
        fail([f"{loaded.path}: storage.url: cannot open the database: {exc}"], 1)


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
    config: Path | None = ConfigOpt,
) -> None:
    """Why a stored article matched a topic, or which clause failed."""
    loaded, store = _open(config)
    try:
        art = store.get_article(article_id)
    finally:
        store.close()
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
        console.print(clause_tree(exp["clauses"]))
        if exp.get("exclude_clauses"):
            console.print("[dim]exclude:[/dim]")
            console.print(clause_tree(exp["exclude_clauses"]))


def backtest(store: Any, rs: RuleSet, *, since: datetime | None, apply: bool = False,
             progress: Progress | None = None) -> dict[str, Any]:
    """Replay `rs` over stored articles; return per-topic differences with the stored matches.

    Only the topics in `rs` are compared (and, with `apply`, rewritten): a
    backtest of one edited topic file leaves every other topic's matches alone.
    """
    topic_ids = {t.id for t in rs.topics}
    diff: dict[str, dict[str, list[dict[str, Any]]]] = {
        t: {"newly_flagged": [], "no_longer_flagged": []} for t in topic_ids}
    kept: Counter[str] = Counter()
    total = 0
    task = progress.add_task("replaying", total=store.count_articles(since=since)) if progress else None
    for art in store.iter_articles(since=since, with_matches=True):
        total += 1
        doc = document_of(art)
        now = set(rs.matching_ids(doc))
        before = {m.topic_id for m in art.matches} & topic_ids
        row = {"id": art.id, "title": art.title, "url": art.url, "source": art.source}
        for t in now - before:
            diff[t]["newly_flagged"].append(row)
        for t in before - now:
            diff[t]["no_longer_flagged"].append(row)
        for t in now & before:
            kept[t] += 1
        if apply and now != before:
            others = [Match(topic_id=m.topic_id, score=m.score, matched_terms=m.matched_terms,
                            explanation=m.explanation, rules_version=m.rules_version)
                      for m in art.matches if m.topic_id not in topic_ids]
            store.replace_matches(art.id, others + rs.match(doc))
        if progress is not None and task is not None:
            progress.advance(task)
    return {
        "articles": total,
        "rules_version": rs.version,
        "applied": apply,
        "topics": [{"topic": t, "still_flagged": kept[t], **diff[t]} for t in sorted(topic_ids)],
    }


@rules_app.command("backtest")
def backtest_cmd(
    since: str = typer.Option("30d", "--since", help="How far back: a duration (30d) or a date (2026-10-01); 'all' for everything."),
    rules: list[Path] | None = typer.Option(None, "--rules", help="Edited topic files or folders (default: the config's)."),
    apply: bool = typer.Option(False, "--apply", help="Write the new matches (marks on topics that still match are kept)."),
    as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
    config: Path | None = ConfigOpt,
) -> None:
    """Replay rules over stored articles and show what a change would newly flag or stop flagging."""
    since_dt: datetime | None = None
    if since != "all":
        try:
            since_dt = parse_since(since)
        except ValueError as exc:
            fail([f"--since: {exc}, or 'all'"])
    loaded, store = _open(config)
    rs = _rules(loaded, rules)
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console, transient=True,
                      disable=as_json or not console.is_terminal) as progress:
            result = backtest(store, rs, since=since_dt, apply=apply, progress=progress)
    finally:
        store.close()
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
        table.add_row(t["topic"], str(t["still_flagged"]), f"[green]+{len(t['newly_flagged'])}[/green]",
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


def term_stats(flagged: list[Any]) -> list[dict[str, Any]]:
    """Per topic and per matched term: hits, relevant, irrelevant, precision (None before any review)."""
    per_topic: dict[str, Counter[str]] = defaultdict(Counter)
    per_term: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for f in flagged:
        per_topic[f.topic]["hits"] += 1
        per_topic[f.topic][f.state] += 1
        for term in dict.fromkeys(f.matched_terms):
            per_term[(f.topic, term)]["hits"] += 1
            per_term[(f.topic, term)][f.state] += 1

    def row(c: Counter[str]) -> dict[str, Any]:
        reviewed = c["relevant"] + c["irrelevant"]
        return {"hits": c["hits"], "relevant": c["relevant"], "irrelevant": c["irrelevant"],
                "unreviewed": c["unreviewed"],
                "precision": round(c["relevant"] / reviewed, 4) if reviewed else None}

    out = []
    for topic in sorted(per_topic):
        terms = [{"term": term, **row(c)} for (t, term), c in per_term.items() if t == topic]
        terms.sort(key=lambda r: (-r["irrelevant"], r["precision"] if r["precision"] is not None else 2, -r["hits"]))
        out.append({"topic": topic, **row(per_topic[topic]), "terms": terms})
    return out


@rules_app.command("stats")
def stats_cmd(
    topic: str | None = typer.Option(None, "--topic", help="Only this topic."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    config: Path | None = ConfigOpt,
) -> None:
    """Per topic and per term, from reviewers' marks: hits, relevant, irrelevant, precision."""
    _, store = _open(config)
    try:
        flagged = store.list_flagged(state="all", topic=topic)
    finally:
        store.close()
    stats = term_stats(flagged)
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
