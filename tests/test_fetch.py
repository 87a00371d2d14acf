"""The fetcher against a real HTTP server on 127.0.0.1.

Each limit is checked the way it fails in production: a slow body, a body without a
length, a redirect loop, a robots.txt rule, a feed link pointing at an internal address.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import shutil
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest

import crawler.fetch as fetch_module
from crawler.fetch import Fetcher, FetchError, parse_max_age, parse_retry_after
from crawler.settings import HttpSettings
from tests.support.server import LoopbackServer, RecordedRequest, Response

# `server` (a LoopbackServer) comes from tests/conftest.py.
RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


def settings(**overrides: Any) -> HttpSettings:
    base: dict[str, Any] = {
        "allow_private_networks": True,
        "per_host_delay": 0,
        "timeout": 5,
        "connect_timeout": 2,
    }
    base.update(overrides)
    return HttpSettings(**base)


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(settings()) as f:
        yield f


async def _error(f: Fetcher, url: str, **kw: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        await f.fetch(url, **kw)
    return info.value


# -- basics ------------------------------------------------------------------------------


async def test_get_returns_body_and_metadata(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/feed.xml", RSS, content_type="application/rss+xml",
                 headers={"Cache-Control": "public, max-age=600"})
    result = await fetcher.fetch(server.url("/feed.xml"))
    assert result.status == 200 and result.body == RSS
    assert result.url == server.url("/feed.xml")
    assert result.content_type == "application/rss+xml"
    assert result.max_age == 600
    assert not result.not_modified and result.retry_after is None
    assert result.elapsed > 0
    seen = server.requests_for("/feed.xml")[0].headers
    assert seen["user-agent"] == HttpSettings().user_agent
    assert "application/rss+xml" in seen["accept"]
    assert "gzip" in seen["accept-encoding"] and "br" in seen["accept-encoding"]


async def test_accept_is_configurable(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/page", "<html></html>")
    await fetcher.fetch(server.url("/page"), accept="text/html")
    assert server.requests_for("/page")[0].headers["accept"] == "text/html"


# -- conditional GET ---------------------------------------------------------------------


async def test_conditional_get_round_trip(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/feed", RSS, etag='W/"abc-123"', last_modified="Mon, 12 May 2025 05:00:00 GMT")
    first = await fetcher.fetch(server.url("/feed"))
    assert first.etag == 'W/"abc-123"'
    assert first.last_modified == "Mon, 12 May 2025 05:00:00 GMT"

    second = await fetcher.fetch(server.url("/feed"), etag=first.etag,
                                 last_modified=first.last_modified)
    assert second.status == 304 and second.not_modified and second.body == b""
    assert second.etag == 'W/"abc-123"'  # kept for the next poll
    assert server.requests_for("/feed")[1].headers["if-none-match"] == 'W/"abc-123"'

    server.route("/feed", RSS + b" ", etag='"v2"')  # the feed changed
    third = await fetcher.fetch(server.url("/feed"), etag=first.etag)
    assert third.status == 200 and not third.not_modified and third.etag == '"v2"'


async def test_etag_is_preferred_over_last_modified(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    lm = "Mon, 12 May 2025 05:00:00 GMT"
    server.route("/feed", RSS, etag='"e1"', last_modified=lm)
    await fetcher.fetch(server.url("/feed"), etag='"e1"', last_modified=lm)
    headers = server.requests_for("/feed")[0].headers
    assert headers["if-none-match"] == '"e1"'
    assert "if-modified-since" not in headers


async def test_last_modified_alone_is_sent_exactly(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    lm = "Mon, 12 May 2025 05:00:00 GMT"
    server.route("/feed", RSS, last_modified=lm)
    result = await fetcher.fetch(server.url("/feed"), last_modified=lm)
    assert result.not_modified and result.last_modified == lm
    headers = server.requests_for("/feed")[0].headers
    assert headers["if-modified-since"] == lm and "if-none-match" not in headers


# -- size cap ----------------------------------------------------------------------------


async def test_size_cap_from_content_length(server: LoopbackServer) -> None:
    server.route("/big", b"x" * 50_000, delay=2.0)  # the body would take 2 s: we must not wait
    async with Fetcher(settings(max_bytes=10_000)) as f:
        started = time.monotonic()
        err = await _error(f, server.url("/big"))
    assert err.kind == "too_large"
    assert time.monotonic() - started < 1.0


async def test_size_cap_on_streamed_body(server: LoopbackServer) -> None:
    server.handler("/stream", lambda r: Response(
        200, b"y" * 50_000, {"Transfer-Encoding": "chunked", "Content-Type": "text/html"}))
    async with Fetcher(settings(max_bytes=10_000)) as f:
        err = await _error(f, server.url("/stream"))
        assert err.kind == "too_large"
        # the server shrugs off the hang-up and keeps serving
        server.route("/small", b"ok")
        assert (await f.fetch(server.url("/small"))).body == b"ok"
    assert server.errors == []


async def test_size_cap_counts_decompressed_bytes(server: LoopbackServer) -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)
    server.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    async with Fetcher(settings(max_bytes=100_000)) as f:
        assert (await _error(f, server.url("/bomb"))).kind == "too_large"


async def test_body_at_the_limit_is_accepted(server: LoopbackServer) -> None:
    server.route("/exact", b"z" * 1000)
    async with Fetcher(settings(max_bytes=1000)) as f:
        assert len((await f.fetch(server.url("/exact"))).body) == 1000


# -- deadline ----------------------------------------------------------------------------


async def test_deadline_covers_a_slow_body(server: LoopbackServer) -> None:
    # each piece arrives well within a read timeout, but the whole body takes 3 s
    server.route("/slow", b"s" * 1000, delay=3.0)
    async with Fetcher(settings(timeout=0.6)) as f:
        started = time.monotonic()
        err = await _error(f, server.url("/slow"))
    assert err.kind == "timeout" and not err.permanent
    assert time.monotonic() - started < 1.5


async def test_deadline_covers_slow_headers(server: LoopbackServer) -> None:
    def slow(_: RecordedRequest) -> Response:
        time.sleep(1.5)
        return Response(200, b"late")

    server.handler("/late", slow)
    async with Fetcher(settings(timeout=0.4)) as f:
        assert (await _error(f, server.url("/late"))).kind == "timeout"


# -- redirects ---------------------------------------------------------------------------


async def test_redirects_are_followed(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.redirect("/old", "/newer", 301)
    server.redirect("/newer", server.url("/newest"), 302)
    server.route("/newest", b"here")
    result = await fetcher.fetch(server.url("/old"))
    assert result.body == b"here" and result.url == server.url("/newest")


async def test_redirect_limit(server: LoopbackServer) -> None:
    for i in range(4):
        server.redirect(f"/r{i}", f"/r{i + 1}")
    server.route("/r4", b"end")
    async with Fetcher(settings(max_redirects=3)) as f:
        err = await _error(f, server.url("/r0"))
        assert err.kind == "redirects"
        assert server.hits("/r4") == 0
    async with Fetcher(settings(max_redirects=4)) as f:
        assert (await f.fetch(server.url("/r0"))).body == b"end"


async def test_redirect_loop(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a?x=1")
    server.redirect("/a?x=1", "/b")
    err = await _error(fetcher, server.url("/a"))
    assert err.kind == "redirects" and "loop" in str(err)
    assert len(server.requests) <= 4


async def test_redirect_without_location_is_a_protocol_error(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    server.route("/nowhere", b"", status=302)
    assert (await _error(fetcher, server.url("/nowhere"))).kind == "protocol"


# -- status codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (403, False), (404, True), (410, True),
                              (500, False), (502, False)],
)
async def test_http_errors(
    server: LoopbackServer, fetcher: Fetcher, status: int, permanent: bool
) -> None:
    server.route("/x", b"nope", status=status)
    err = await _error(fetcher, server.url("/x"))
    assert (err.kind, err.status, err.permanent) == ("http", status, permanent)
    assert str(err).startswith(f"HTTP {status}") and len(str(err)) < 120
    assert err.url == server.url("/x")


async def test_retry_after_seconds(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/busy", b"", status=429, headers={"Retry-After": "120"})
    err = await _error(fetcher, server.url("/busy"))
    assert (err.status, err.retry_after) == (429, 120.0)


async def test_retry_after_http_date(server: LoopbackServer, fetcher: Fetcher) -> None:
    when = datetime.now(UTC) + timedelta(seconds=90)
    server.route("/down", b"", status=503,
                 headers={"Retry-After": format_datetime(when, usegmt=True)})
    err = await _error(fetcher, server.url("/down"))
    assert err.status == 503 and err.retry_after is not None
    assert 80 <= err.retry_after <= 91


def test_parse_helpers() -> None:
    now = datetime(2025, 5, 12, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Mon, 12 May 2025 12:02:00 GMT", now) == 120.0
    assert parse_retry_after("Mon, 12 May 2025 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_max_age("no-cache") is None
    assert parse_max_age("public, s-maxage=10, max-age=300") == 300.0


# -- encodings ---------------------------------------------------------------------------


async def test_gzip_and_brotli(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/gz", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    server.route("/br", brotli.compress(RSS), headers={"Content-Encoding": "br"})
    assert (await fetcher.fetch(server.url("/gz"))).body == RSS
    assert (await fetcher.fetch(server.url("/br"))).body == RSS


# -- robots.txt --------------------------------------------------------------------------


async def test_robots_disallow(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    server.route("/private/a", b"secret")
    server.route("/public", b"ok")
    err = await _error(fetcher, server.url("/private/a"))
    assert err.kind == "robots" and err.permanent
    assert server.hits("/private/a") == 0
    assert (await fetcher.fetch(server.url("/public"))).body == b"ok"
    assert server.hits("/robots.txt") == 1  # cached per origin
    # a caller may opt out (feeds are meant to be polled)
    assert (await fetcher.fetch(server.url("/private/a"), respect_robots=False)).body == b"secret"


async def test_robots_group_for_our_agent(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/robots.txt", "User-agent: *\nAllow: /\n\nUser-agent: newswatch\nDisallow: /\n",
                 content_type="text/plain")
    server.route("/page", b"p")
    assert (await _error(fetcher, server.url("/page"))).kind == "robots"


async def test_robots_setting_off(server: LoopbackServer) -> None:
    server.route("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    server.route("/page", b"p")
    async with Fetcher(settings(respect_robots=False)) as f:
        assert (await f.fetch(server.url("/page"))).body == b"p"
    assert server.hits("/robots.txt") == 0


async def test_robots_404_allows_all(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/page", b"p")
    assert (await fetcher.fetch(server.url("/page"))).body == b"p"
    assert (await fetcher.fetch(server.url("/page"))).body == b"p"
    assert server.hits("/robots.txt") == 1


async def test_robots_5xx_allows_and_asks_again(
    server: LoopbackServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_module, "ROBOTS_RETRY", 0.0)
    server.route("/robots.txt", b"", status=503)
    server.route("/page", b"p")
    assert (await fetcher.fetch(server.url("/page"))).body == b"p"
    server.route("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    assert (await _error(fetcher, server.url("/page"))).kind == "robots"
    assert server.hits("/robots.txt") == 2


async def test_robots_fetched_once_under_concurrency(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    server.route("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain",
                 delay=0.2)
    server.route("/p", b"p")
    await asyncio.gather(*(fetcher.fetch(server.url(f"/p?i={i}")) for i in range(5)))
    assert server.hits("/robots.txt") == 1


# -- politeness --------------------------------------------------------------------------


def _serve_slowly(server: LoopbackServer, path: str, seconds: float) -> None:
    """Answer `path` after `seconds`, so concurrent fetches overlap on the server."""
    def slow(_: RecordedRequest) -> Response:
        time.sleep(seconds)
        return Response(200, b"ok")

    server.handler(path, slow)


async def test_per_host_concurrency(server: LoopbackServer) -> None:
    _serve_slowly(server, "/work", 0.15)
    async with Fetcher(settings(per_host_concurrency=2, respect_robots=False)) as f:
        await asyncio.gather(*(f.fetch(server.url(f"/work?n={i}")) for i in range(6)))
    assert server.hits("/work") == 6
    assert server.max_in_flight == 2


async def test_per_host_delay(server: LoopbackServer) -> None:
    server.route("/tick", b"t")
    async with Fetcher(settings(per_host_delay=0.15, per_host_concurrency=4,
                                respect_robots=False)) as f:
        await asyncio.gather(*(f.fetch(server.url(f"/tick?n={i}")) for i in range(4)))
    starts = sorted(r.time for r in server.requests_for("/tick"))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Arrival times at the server, not send times: on a loaded machine one request can reach
    # the server late and shorten the next gap, so each gap gets slack; the span cannot shrink
    # much (three delays of 0.15 s), and without the delay every gap would be about 0.
    assert len(starts) == 4 and min(gaps) >= 0.05 and starts[-1] - starts[0] >= 0.35


async def test_robots_crawl_delay_spaces_requests(server: LoopbackServer) -> None:
    server.route("/robots.txt", "User-agent: *\nCrawl-delay: 0.2\n", content_type="text/plain")
    server.route("/c", b"c")
    async with Fetcher(settings()) as f:
        for i in range(3):
            await f.fetch(server.url(f"/c?n={i}"))
    starts = [r.time for r in server.requests_for("/c")]
    assert all(b - a >= 0.18 for a, b in itertools.pairwise(starts))


# -- address safety ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "224.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:10.0.0.1]", "[fe80::1]",
     "[fc00::1]", "[::]", "localhost", "2130706433"],
)
async def test_private_addresses_are_refused_by_default(host: str) -> None:
    async with Fetcher(HttpSettings()) as f:
        err = await _error(f, f"http://{host}/feed")
    assert err.kind == "blocked" and err.permanent
    assert "not a public address" in str(err)


async def test_loopback_server_is_refused_by_default(server: LoopbackServer) -> None:
    server.route("/feed", RSS)
    async with Fetcher(HttpSettings()) as f:
        assert (await _error(f, server.url("/feed"))).kind == "blocked"
    assert server.requests == []  # not even robots.txt was asked for


async def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake_getaddrinfo(host: str, port: int, **kw: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)
    async with Fetcher(HttpSettings(respect_robots=False)) as f:
        err = await _error(f, "https://rebinding.example/feed")
    assert err.kind == "blocked" and "10.0.0.7" in str(err)


async def test_every_redirect_hop_is_checked() -> None:
    seen: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    async with Fetcher(HttpSettings(respect_robots=False, per_host_delay=0),
                       transport=httpx.MockTransport(app)) as f:
        err = await _error(f, "http://93.184.216.34/feed")
    assert err.kind == "blocked"
    assert seen == ["http://93.184.216.34/feed"]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed", "file:///etc/passwd", "javascript:alert(1)",
            "/relative/feed", "http:///nohost", "data:text/plain,hi"],
)
async def test_non_http_urls_are_refused(fetcher: Fetcher, url: str) -> None:
    err = await _error(fetcher, url)
    assert err.kind == "invalid_url" and err.permanent


async def test_redirect_to_file_scheme_is_refused(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    server.redirect("/sneaky", "file:///etc/passwd")
    assert (await _error(fetcher, server.url("/sneaky"))).kind == "invalid_url"


# -- failures are always FetchError ------------------------------------------------------


async def test_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with Fetcher(settings()) as f:
        err = await _error(f, f"http://127.0.0.1:{port}/feed")
    assert err.kind == "connect" and not err.permanent


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.RemoteProtocolError("peer closed connection"), "protocol"),
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "connect"),
        (RuntimeError("something odd in a library"), "protocol"),
    ],
)
async def test_library_errors_become_fetch_errors(exc: Exception, kind: str) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        raise exc

    async with Fetcher(settings(), transport=httpx.MockTransport(app)) as f:
        err = await _error(f, "http://93.184.216.34/feed", respect_robots=False)
    assert err.kind == kind and str(err)


async def test_http2_client_talks_to_http1_server(server: LoopbackServer) -> None:
    server.route("/h", b"h")
    async with Fetcher(settings(http2=True)) as f:
        assert (await f.fetch(server.url("/h"))).body == b"h"


# -- hostile responses (issue 11) --------------------------------------------------------


def _bomb(coding: str, size: int = 100_000_000) -> bytes:
    """`size` zero bytes compressed in `coding` ("gzip", "deflate", "br", "gzip, gzip"), built in pieces."""
    def gz(chunks: Any, wbits: int) -> Any:
        c = zlib.compressobj(9, zlib.DEFLATED, wbits)
        for chunk in chunks:
            yield c.compress(chunk)
        yield c.flush()

    zeros = (b"\0" * 1_000_000 for _ in range(size // 1_000_000))
    if coding == "br":
        c = brotli.Compressor(quality=5)
        return b"".join(c.process(chunk) for chunk in zeros) + c.finish()
    if coding == "deflate":
        return b"".join(gz(zeros, zlib.MAX_WBITS))
    body = b"".join(gz(zeros, 16 + zlib.MAX_WBITS))
    return gzip.compress(body) if coding == "gzip, gzip" else body


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "gzip, gzip"])
async def test_a_compression_bomb_costs_no_more_than_the_cap(server: LoopbackServer, coding: str) -> None:
    """Defect 6: a 64 KiB network chunk of a bomb used to inflate whole (60-125 MB) before the cap."""
    import tracemalloc

    bomb = _bomb(coding)
    server.route("/bomb", bomb, headers={"Content-Encoding": coding})
    server.route("/warm-up", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    cap = 1_000_000
    async with Fetcher(settings(max_bytes=cap, respect_robots=False)) as f:
        await f.fetch(server.url("/warm-up"))  # lazy imports and the connection are not the bomb's
        tracemalloc.start()
        try:
            err = await _error(f, server.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert err.kind == "too_large"
    assert peak < cap + 1_000_000, f"peak {peak / 1e6:.1f} MB for a {len(bomb) / 1e3:.0f} kB {coding} bomb"


@pytest.mark.parametrize("coding", ["deflate-raw", "deflate", "gzip-members", "gzip-trailing"])
async def test_compressed_bodies_still_decode(server: LoopbackServer, fetcher: Fetcher, coding: str) -> None:
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = {
        "deflate-raw": raw.compress(RSS) + raw.flush(),
        "deflate": zlib.compress(RSS),
        "gzip-members": gzip.compress(RSS[:20]) + gzip.compress(RSS[20:]),
        "gzip-trailing": gzip.compress(RSS) + b"\0junk after the stream" * 1000,
    }[coding]
    server.route("/c", body, headers={"Content-Encoding": coding.split("-")[0]})
    assert (await fetcher.fetch(server.url("/c"))).body == RSS


async def test_a_corrupt_compressed_body_is_a_protocol_error(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/bad", b"\x1f\x8b\x08\x00not gzip at all" * 10, headers={"Content-Encoding": "gzip"})
    assert (await _error(fetcher, server.url("/bad"))).kind == "protocol"


async def test_a_redirect_to_a_huge_url_is_refused(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.redirect("/long", server.url("/" + "a" * 5000))
    assert (await _error(fetcher, server.url("/long"))).kind == "invalid_url"


async def test_dns_rebinding_cannot_reach_loopback(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 8: the first answer (public) passed the check; the connection resolved again (127.0.0.1)."""
    server.route("/internal", b"secret")
    answers = itertools.chain([["93.184.216.34"]], itertools.repeat(["127.0.0.1"]))
    loop = asyncio.get_running_loop()

    async def rebinding_dns(host: str, port: int, **kw: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in next(answers)]

    monkeypatch.setattr(loop, "getaddrinfo", rebinding_dns)
    async with Fetcher(HttpSettings(respect_robots=False, per_host_delay=0)) as f:
        err = await _error(f, f"http://rebind.example:{server.port}/internal")
    assert err.kind == "blocked" and "127.0.0.1" in str(err)
    assert server.requests == []


async def test_public_hosts_connect_to_the_checked_address(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checked backend connects to the address it resolved (here loopback, as if it were public)."""
    server.route("/feed", RSS)
    monkeypatch.setattr(fetch_module, "_refused", lambda ip: False)  # treat loopback as public
    loop = asyncio.get_running_loop()

    async def dns(host: str, port: int, **kw: Any) -> list[Any]:
        assert host == "news.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(loop, "getaddrinfo", dns)
    async with Fetcher(HttpSettings(respect_robots=False, per_host_delay=0, http2=False)) as f:
        result = await f.fetch(f"http://news.example:{server.port}/feed")
    assert result.body == RSS
    assert server.requests[0].headers["host"] == f"news.example:{server.port}"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "gzip, br"])
def test_bounded_decoders_take_a_body_one_byte_at_a_time(coding: str) -> None:
    """A server dripping single bytes must decode the same as one that sends the body whole."""
    text = RSS * 50
    body = text
    for layer in [c.strip() for c in coding.split(",")]:
        body = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[layer](body)
    layers = fetch_module._decoders(coding)
    out = b"".join(piece for i in range(len(body)) for piece in fetch_module._decode(layers, body[i:i + 1]))
    assert out == text


def _certificates(tmp: Path) -> tuple[str, str, str]:
    """A throw-away CA and a certificate for news.example signed by it (openssl CLI)."""
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp, timeout=30)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=newswatch test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=news.example")
    (tmp / "ext.cnf").write_text("subjectAltName=DNS:news.example\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf")
    return str(tmp / "ca.pem"), str(tmp / "leaf.pem"), str(tmp / "leaf.key")


@contextlib.contextmanager
def _tls_server(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int, list[str | None]]]:
    """A loopback HTTPS server whose certificate, for news.example, our throw-away CA signed.

    Yields the CA's file, the port and the SNI names the server was asked for; every host
    name resolves to the server, and loopback counts as public.
    """
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ca, cert, key = _certificates(tmp)
    names: list[str | None] = []
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, _ctx: names.append(name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(RSS)))
            self.end_headers()
            self.wfile.write(RSS)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(fetch_module, "_refused", lambda ip: False)  # treat loopback as public

    async def dns(host: str, p: int, **kw: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", p))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", dns)
    try:
        yield ca, httpd.server_address[1], names
    finally:
        httpd.shutdown()
        httpd.server_close()


def _hashed_dir(tmp: Path, *pems: str) -> Path:
    """A CA directory as `update-ca-certificates` leaves it: each certificate under `<subject hash>.0`."""
    import subprocess

    folder = tmp / "certs"
    folder.mkdir()
    for pem in pems:
        digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", pem], check=True,
                                capture_output=True, text=True, timeout=30).stdout.strip()
        shutil.copy(pem, folder / f"{digest}.0")
    return folder


async def test_tls_through_the_checked_backend_keeps_sni_and_verifies_the_host_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend connects to the checked IP; the handshake still names (and verifies) the host."""
    with _tls_server(tmp_path, monkeypatch) as (ca, port, names):
        monkeypatch.setenv("SSL_CERT_FILE", ca)
        async with Fetcher(HttpSettings(respect_robots=False, per_host_delay=0)) as f:
            assert (await f.fetch(f"https://news.example:{port}/feed")).body == RSS
            wrong = await _error(f, f"https://other.example:{port}/feed")  # certificate names news.example
    assert names and set(names) <= {"news.example", "other.example"} and names[0] == "news.example"
    assert wrong.kind == "connect" and "certificate" in str(wrong).lower()


async def test_tls_looks_cas_up_in_the_systems_hashed_directory_as_strictly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SSL_CERT_FILE/SSL_CERT_DIR the system's hashed CA directory is the trust store.

    Nothing is parsed up front (an idle daemon holds no bundle), the CA is found when the
    handshake needs it, and a certificate for another name, or from a CA the directory
    lacks, is still refused.
    """
    with _tls_server(tmp_path, monkeypatch) as (ca, port, _):
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        monkeypatch.setattr(fetch_module, "SYSTEM_CA_DIR", str(_hashed_dir(tmp_path, ca)))
        assert fetch_module.verified_context().cert_store_stats()["x509"] == 0
        async with Fetcher(HttpSettings(respect_robots=False, per_host_delay=0)) as f:
            assert (await f.fetch(f"https://news.example:{port}/feed")).body == RSS
            wrong = await _error(f, f"https://other.example:{port}/feed")
        assert wrong.kind == "connect" and "certificate" in str(wrong).lower()
        other = tmp_path / "other"
        other.mkdir()
        other_ca, _, _ = _certificates(other)  # a CA of the same name, another key
        monkeypatch.setattr(fetch_module, "SYSTEM_CA_DIR", str(_hashed_dir(other, other_ca)))
        async with Fetcher(HttpSettings(respect_robots=False, per_host_delay=0)) as f:
            untrusted = await _error(f, f"https://news.example:{port}/feed")
    assert untrusted.kind == "connect" and "certificate verify failed" in str(untrusted).lower()


async def test_tls_without_a_hashed_directory_trusts_certifis_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A system without a hashed CA directory (a plain folder does not count) gets certifi's CAs, not ours."""
    import certifi

    with _tls_server(tmp_path, monkeypatch) as (ca, port, _):
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        plain = tmp_path / "plain"
        plain.mkdir()
        shutil.copy(ca, plain / "ca.pem")
        monkeypatch.setattr(fetch_module, "SYSTEM_CA_DIR", str(plain))
        bundle = certifi.contents().count("BEGIN CERTIFICATE")
        assert fetch_module.verified_context().cert_store_stats()["x509_ca"] == bundle > 100
        async with Fetcher(HttpSettings(respect_robots=False, per_host_delay=0)) as f:
            untrusted = await _error(f, f"https://news.example:{port}/feed")
    assert untrusted.kind == "connect" and "certificate verify failed" in str(untrusted).lower()


async def test_each_origin_has_a_pool_of_its_own_and_idle_ones_are_closed(server: LoopbackServer) -> None:
    """Connections are kept per origin, reused for the next request, and bounded in number."""
    server.route("/a", "a")
    with LoopbackServer() as other:
        other.route("/b", "b")
        pools = fetch_module._OriginPools(http2=False, limits=httpx.Limits(max_connections=2),
                                          check=False, max_idle_pools=1)
        async with httpx.AsyncClient(transport=pools) as client:
            for _ in range(3):
                assert (await client.get(server.url("/a"))).text == "a"
            (first,) = pools._pools.values()
            assert len(first._pool.connections) == 1  # kept alive and reused, not one per request
            assert (await client.get(other.url("/b"))).text == "b"
            (second,) = pools._pools.values()  # the first origin's idle pool was closed
            assert second is not first and first._pool.connections == []
            async with client.stream("GET", other.url("/b")):  # in flight: its pool is not closed
                assert (await client.get(server.url("/a"))).text == "a"
                assert len(pools._pools) == 2
        assert pools._pools == {}


async def test_hosts_not_asked_for_a_while_have_their_connections_closed(server: LoopbackServer) -> None:
    """An idle daemon keeps no sockets for the hosts of its last poll; a host in use keeps its own."""
    server.route("/a", "a")
    with LoopbackServer() as other:
        other.route("/b", "b")
        async with Fetcher(settings()) as f:
            pools = f._client._transport
            assert (await f.fetch(server.url("/a"))).body == b"a"
            assert (await f.fetch(other.url("/b"))).body == b"b"
            assert await f.close_unused(60) == 0  # both asked for just now
            (first, second) = pools._pools.values()
            assert len(first._pool.connections) == 1
            async with f._client.stream("GET", other.url("/b")):  # in flight: kept
                assert await f.close_unused(0) == 1
                assert list(pools._pools.values()) == [second] and first._pool.connections == []
            assert await f.close_unused(0) == 1 and pools._pools == {}
            assert (await f.fetch(server.url("/a"))).body == b"a"  # a later poll connects anew
        assert server.hits("/a") == 2


async def test_a_host_gets_no_more_connections_than_its_concurrency(server: LoopbackServer) -> None:
    _serve_slowly(server, "/slow", 0.2)
    async with Fetcher(settings(per_host_concurrency=2)) as f:
        await asyncio.gather(*(f.fetch(server.url(f"/slow?{i}")) for i in range(6)))
        (pool,) = f._client._transport._pools.values()
        assert len(pool._pool.connections) <= 2
    assert server.max_in_flight == 2
