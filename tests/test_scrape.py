"""One page read the same way everywhere: the pipeline, `extract URL` and `rules test --url`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crawler.cli import app
from crawler.extract import SiteProfiles
from crawler.scrape import read_page
from tests.e2e.helpers import write_config
from tests.support.server import LoopbackServer

runner = CliRunner()

PAGE = ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Talks resume</title></head><body>"
        "<main><article><h1>Talks resume</h1><div class='story'>"
        "<p>ISLAMABAD: Officials from India and Pakistan met in a Gulf capital last month to discuss trade, "
        "water and the ceasefire, three people familiar with the meetings said on Sunday.</p>"
        "<p class='context'>The two national security advisers had kept a backchannel open through the "
        "winter, according to two officials who asked not to be named because they were not allowed to speak.</p>"
        "<p>The meetings were the first of their kind in four years, and more are planned for the spring, "
        "when both governments expect to name new envoys to the talks.</p>"
        "</div></article></main></body></html>")
SITES = """
[sites.loopback]
domains = ["127.0.0.1"]
body = [".story"]
"""


def test_a_page_that_is_not_html_gives_no_article() -> None:
    page = read_page(b"%PDF-1.7 ...", "https://example.com/a.pdf", "application/pdf", SiteProfiles())
    assert page.article is None and page.error == "not an HTML page (application/pdf)"
    html = read_page(PAGE.encode(), "https://example.com/a", "text/html; charset=utf-8", SiteProfiles())
    assert html.article is not None and "Gulf capital" in html.article.text and html.error is None


def test_extract_url_checks_the_content_type_like_the_daemon(tmp_path: Path, server: LoopbackServer) -> None:
    server.route("/report.pdf", "%PDF-1.7 not a page", content_type="application/pdf")
    cfg = write_config(tmp_path, [])
    res = runner.invoke(app, ["extract", server.url("/report.pdf"), "--config", str(cfg)])
    assert res.exit_code == 1
    assert "not an HTML page (application/pdf)" in res.output


def test_rules_test_url_reads_the_configs_site_profiles(tmp_path: Path, server: LoopbackServer) -> None:
    """The page is read with the config's sites.toml, so a broken one is reported, not ignored."""
    server.route("/news/1", PAGE)
    cfg = write_config(tmp_path, [])
    url = server.url("/news/1")
    plain = runner.invoke(app, ["rules", "test", "backchannel", "--url", url, "--config", str(cfg), "--json"])
    assert plain.exit_code == 0, plain.output
    assert '"matched": true' in plain.output
    sites = cfg.parent / "sites.toml"
    sites.write_text(SITES, encoding="utf-8")
    lines = cfg.read_text(encoding="utf-8").splitlines()
    cfg.write_text("\n".join(f'sites = "{sites}"' if line.startswith("sites = ") else line for line in lines),
                   encoding="utf-8")
    broken = runner.invoke(app, ["rules", "test", "backchannel", "--url", url, "--config", str(cfg)])
    assert broken.exit_code == 2
    assert "sites.loopback.domains[0]: not a host name: '127.0.0.1'" in broken.output
