"""The shape of the code, read from its imports: what may depend on what.

Dependencies point down: entry packages (`crawler.cli`, `crawler.web`) → pipeline and
daemon → stages → models and settings. `storage` stands beside the stages and imports
nothing of `crawler`; the rules engine needs neither storage nor HTTP; the daemon's
commands load no web framework.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.e2e.helpers import env, page, rss, write_config
from tests.support.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]
WEB_ONLY = ("fastapi", "starlette", "jinja2", "uvicorn", "datasketch", "scipy")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file (function-level imports count)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for top in ("crawler", "storage"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts:
                graph[_module_name(path)] = _imports(path)
    return graph


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_storage_imports_nothing_of_crawler() -> None:
    bad = {m: sorted(i for i in deps if _under(i, "crawler"))
           for m, deps in _graph().items() if _under(m, "storage")}
    assert {m: v for m, v in bad.items() if v} == {}


def test_the_rules_engine_needs_neither_storage_nor_http() -> None:
    banned = ("storage", "httpx", "crawler.fetch", "crawler.extract", "crawler.web", "crawler.cli",
              "crawler.pipeline", "crawler.scrape")
    bad = {m: sorted(i for i in deps if any(_under(i, b) for b in banned))
           for m, deps in _graph().items() if _under(m, "crawler.rules")}
    assert {m: v for m, v in bad.items() if v} == {}


def test_no_cycles_between_the_parts_of_crawler() -> None:
    """A part is a top-level module or folder of `crawler` (`cli`, `web`, `rules`, `pipeline`…)."""
    graph = _graph()
    parts: dict[str, set[str]] = defaultdict(set)
    for module, deps in graph.items():
        if not _under(module, "crawler") or module == "crawler":
            continue
        part = module.split(".")[1]
        for dep in deps:
            other = dep.split(".")[1] if _under(dep, "crawler") and dep != "crawler" else part
            if other != part and f"crawler.{other}" in graph:
                parts[part].add(other)
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(parts.get(node, ())):
            if nxt == path[0]:
                cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:
                visit(nxt, [*path, nxt])

    for start in sorted(parts):
        visit(start, [start])
    assert cycles == []


def test_the_daemons_commands_load_no_web_framework(tmp_path: Path, server: LoopbackServer) -> None:
    """`check` and `poll` in a fresh interpreter leave the web app's libraries unloaded."""
    server.route("/news/1", page("Markets close higher", "KARACHI: Stocks rose on Friday."))
    server.route("/feed.xml", rss([{"title": "Markets close higher", "link": server.url("/news/1")}]),
                 content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "site", "url": server.url("/feed.xml")}])
    script = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from crawler.cli import app\n"
        "codes = [CliRunner().invoke(app, [cmd, '--config', sys.argv[1]]).exit_code for cmd in ('check', 'poll')]\n"
        f"print(json.dumps({{'codes': codes, 'loaded': [m for m in {WEB_ONLY!r} if m in sys.modules]}}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(cfg)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"codes": [0, 0], "loaded": []}
    assert server.hits("/news/1") == 1


def test_the_rules_engine_loads_no_storage_or_http() -> None:
    """Transitively too: importing the engine and its backtest pulls in no database or HTTP client."""
    script = ("import sys, crawler.rules, crawler.rules.backtest\n"
              "print([m for m in ('storage', 'sqlalchemy', 'httpx', 'crawler.fetch', 'crawler.extract')"
              " if m in sys.modules])\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_daemon_loads_no_alembic_or_rich(tmp_path: Path) -> None:
    """The daemon's modules import neither Alembic (11 MB) nor rich and pygments (httpx's CLI, our
    tables: 4 MB), which an idle daemon never uses; its store migrates in a child process."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    script = ("import json, sys\n"
              "import crawler.cli, crawler.daemon\n"
              "before = [m for m in ('alembic', 'mako', 'rich', 'pygments') if m in sys.modules]\n"
              "from storage import Store\n"
              "store = Store.open(sys.argv[1], migrate_in_child=True)\n"
              "from storage.db import _at_head\n"
              "print(json.dumps({'before': before, 'after': 'alembic' in sys.modules,"
              " 'at_head': _at_head(store.engine)}))\n")
    for _ in range(2):  # a fresh database (migrated by the child), then one already at the newest schema
        proc = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"before": [], "after": False,
                                                                     "at_head": True}


def test_newswatch_run_loads_only_the_daemons_commands() -> None:
    """`newswatch run` registers only its own module's commands (not tomlkit, the review, rules or
    feeds commands), and the daemon loads charset-normalizer (2.6 MB) only for a page that names no
    charset and is not UTF-8; every command is still there for help and for `crawler.cli.app`."""
    script = (
        "import json, sys\n"
        "sys.argv = ['newswatch', 'run', '--help']\n"
        "from crawler.cli import main\n"
        "import crawler.daemon, crawler.pipeline\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "kept_out = ('tomlkit', 'charset_normalizer', 'crawler.cli.review', 'crawler.cli.rules',"
        " 'crawler.cli.feeds', 'crawler.cli.users', 'crawler.cli.serve', 'crawler.cli.tools')\n"
        "loaded = [m for m in kept_out if m in sys.modules]\n"
        "from crawler.extract.charset import decode_html\n"
        "text = decode_html('caf\\u00e9 \\u00e0 la cr\\u00e8me'.encode('cp1252'), None)\n"
        "from crawler.cli import app\n"
        "import typer.main\n"
        "names = sorted(typer.main.get_command(app).commands)\n"
        "print(json.dumps({'loaded': loaded, 'guessed': 'charset_normalizer' in sys.modules, 'names': names}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [] and result["guessed"] is True
    assert {"run", "poll", "check", "status", "review", "rules", "feeds", "users", "serve", "export", "extract",
            "demo"} <= set(result["names"])


IDLE_KEPT_OUT = ("sqlalchemy.dialects.postgresql", "alembic", "mako", "rich", "pygments", "tomlkit",
                 "charset_normalizer", "crawler.cli.review", "crawler.cli.rules", "crawler.cli.feeds",
                 *WEB_ONLY)
"""What an idle `newswatch run` on SQLite never uses: another database's dialect (2 MB with its
drivers' modules), migrations, the other commands' libraries, the web app's."""


def test_an_idle_daemon_on_sqlite_holds_none_of_what_it_does_not_use(tmp_path: Path,
                                                                     server: LoopbackServer) -> None:
    """`newswatch run` as systemd starts it polls a loopback feed, stores its article, then idles:
    its modules and what they hold then are what it keeps for weeks."""
    server.route("/news/1", page("Markets close higher", "KARACHI: Stocks rose on Friday."))
    server.route("/feed.xml", rss([{"title": "Markets close higher", "link": server.url("/news/1")}]),
                 content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "site", "url": server.url("/feed.xml"), "interval": "1h"}])
    script = (
        "import json, os, signal, sqlite3, sys, threading, time\n"
        "database = sys.argv[2]\n"
        "def idle() -> None:\n"
        "    deadline = time.monotonic() + 60\n"
        "    while time.monotonic() < deadline:\n"
        "        try:\n"
        "            with sqlite3.connect(f'file:{database}?mode=ro', uri=True) as db:\n"
        "                if db.execute('select count(*) from articles').fetchone()[0]:\n"
        "                    break\n"
        "        except sqlite3.Error:\n"
        "            pass\n"
        "        time.sleep(0.2)\n"
        "    time.sleep(2)\n"
        "    from selectolax.lexbor import LexborHTMLParser\n"
        "    pages = [f'{name}.{k}' for name, mod in list(sys.modules.items()) if name.startswith('crawler')"
        " for k, v in vars(mod).items() if isinstance(v, LexborHTMLParser)]\n"
        "    print(json.dumps({'modules': sorted(sys.modules), 'pages': pages}), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "threading.Thread(target=idle, daemon=True).start()\n"
        "sys.argv = ['newswatch', 'run', '--config', sys.argv[1]]\n"
        "from crawler.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(cfg), str(tmp_path / "newswatch.db")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    idle = json.loads(proc.stdout.strip().splitlines()[-1])
    loaded = set(idle["modules"])
    assert server.hits("/news/1") == 1
    assert {"crawler.daemon", "sqlalchemy.dialects.sqlite"} <= loaded  # it did run, on SQLite
    assert sorted(m for m in loaded if any(_under(m, k) for k in IDLE_KEPT_OUT)) == []
    assert idle["pages"] == []  # no module keeps a parsed page (Lexbor holds 0.6 MB per document)
