"""HTTP fetching with the manners and limits an unattended poller needs.

One `httpx.AsyncClient` serves the whole daemon (HTTP/2, a connection pool, gzip and
brotli). Around it `Fetcher` adds what the daemon must not get wrong over weeks of
polling somebody else's servers:

* politeness: a concurrency limit and a delay between request starts per host, an
  honest User-Agent, robots.txt (protego) cached per origin, and Crawl-delay;
* caps: an overall deadline per request (connect, headers *and* body), a streaming
  size cap that stops reading as soon as the body is too big, a redirect limit;
* safety: every hop of a redirect chain is resolved and refused if it points at a
  private, loopback, link-local or otherwise non-public address, so that a feed cannot
  make the daemon fetch internal services (unless `allow_private_networks`). The
  connection itself goes to the address that was checked (a network backend that
  resolves once), so a DNS server that answers differently the second time (DNS
  rebinding) cannot slip an internal address past the check;
* decompression in bounded steps: gzip, deflate and brotli bodies are inflated at most
  64 KiB at a time and counted against the size cap as they grow, so a compression
  bomb costs no more memory than the cap;
* caching: conditional GET with the validators exactly as the server gave them, and
  Retry-After and Cache-Control max-age reported to the scheduler.

`fetch()` raises nothing but `FetchError`, whose `kind` says what went wrong in terms
the scheduler can act on (back off, slow down, give up on this URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import os
import re
import select
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin

import brotli
import httpcore
import httpx
from protego import Protego

from crawler.settings import MAX_URL_LENGTH, HttpSettings
from crawler.urls import host_of

__all__ = [
    "DEFAULT_ACCEPT",
    "FetchError",
    "FetchResult",
    "Fetcher",
    "fetch_page",
    "parse_max_age",
    "parse_retry_after",
]

DEFAULT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, application/xhtml+xml;q=0.8, "
    "*/*;q=0.5"
)
"""Feeds first, then HTML pages: one default serves both feed polls and article fetches."""

ROBOTS_TTL = 86400.0
"""How long a fetched robots.txt (or a 4xx for it) is trusted."""
ROBOTS_RETRY = 900.0
"""After a 5xx or unreachable robots.txt we allow fetching, and ask again this much later."""
ROBOTS_MAX_BYTES = 500 * 1024
"""RFC 9309: crawlers must parse at least the first 500 KiB; we read no more."""
MAX_CRAWL_DELAY = 60.0
"""A robots.txt Crawl-delay above this is capped, so one site cannot stall a feed for hours."""

_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT_STATUSES = {400, 404, 405, 410, 414, 451, 501}
_PERMANENT_KINDS = {"robots", "blocked", "invalid_url"}
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?([0-9]+)\"?", re.I)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
INFLATE_STEP = 64 * 1024
"""Most bytes one decompression step may produce: what a bomb can cost beyond the cap."""
try:  # brotli >= 1.2 can bound its output; an older one is simply not offered to servers
    brotli.Decompressor().process(b"", output_buffer_limit=1)
    _ENCODINGS = "gzip, deflate, br"
except (TypeError, AttributeError, brotli.error):  # pragma: no cover - depends on the wheel
    _ENCODINGS = "gzip, deflate"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True)
class FetchResult:
    """A successful response (2xx or 304) after redirects."""

    url: str
    """Final URL after redirects: where the body came from."""
    status: int
    headers: httpx.Headers
    body: bytes
    content_type: str | None
    etag: str | None
    """Validator to send next time, exactly as received (on a 304 without one: as sent)."""
    last_modified: str | None
    not_modified: bool
    retry_after: float | None
    """Seconds, when the server sent Retry-After."""
    max_age: float | None
    """Seconds from Cache-Control max-age: a hint for the next poll."""
    elapsed: float
    """Seconds from the call to the end of the body, waits for the host included."""


class FetchError(Exception):
    """Why a fetch failed, as a short sentence, with a `kind` the scheduler can act on.

    Kinds: `timeout`, `connect`, `too_large`, `redirects`, `blocked`, `robots`, `http`,
    `invalid_url`, `protocol`. `url` is the address that failed: after redirects, the
    last hop.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.url = url
        self.status = status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """True when asking again will not help (gone, forbidden by robots, refused address)."""
        if self.kind in _PERMANENT_KINDS:
            return True
        return self.kind == "http" and self.status in _PERMANENT_STATUSES

    def __repr__(self) -> str:
        return f"FetchError(kind={self.kind!r}, status={self.status!r}, message={self.message!r})"


@dataclass(slots=True)
class _Host:
    """Per-host politeness state: a semaphore for concurrency, a clock for spacing."""

    sem: asyncio.Semaphore
    lock: asyncio.Lock
    next_start: float = 0.0
    crawl_delay: float = 0.0
    users: int = 0


@dataclass(slots=True)
class _Robots:
    parser: Protego | None
    expires: float


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit alone takes '¹', which float() refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_max_age(value: str | None) -> float | None:
    """Seconds from `Cache-Control: max-age=N` (None if absent)."""
    if not value:
        return None
    m = _MAX_AGE_RE.search(value)
    return float(m.group(1)) if m else None


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for any address that is not a public unicast one (checked through IPv6 wrappers)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip.teredo:
            embedded = ip.teredo[1]
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and _refused(embedded):
            return True
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


class Fetcher:
    """The daemon's one HTTP client. Use as `async with Fetcher(settings) as f:`."""

    def __init__(
        self, settings: HttpSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._agent = settings.user_agent.split("/", 1)[0].split()[0] or "newswatch"
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.timeout,
            write=settings.timeout,
            pool=settings.timeout,
        )
        # Each origin gets a pool of its own, as large as the host's politeness allows: one
        # shared pool of 100 for every host scanned all its connections on every request and,
        # keeping 20 alive for a hundred hosts, reconnected on most of them.
        limits = httpx.Limits(max_connections=settings.per_host_concurrency,
                              max_keepalive_connections=settings.per_host_concurrency)
        if transport is None:
            transport = _OriginPools(http2=settings.http2, limits=limits,
                                     check=not settings.allow_private_networks)
        self._client = httpx.AsyncClient(
            http2=settings.http2,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": _ENCODINGS},
            transport=transport,
            # Proxies from the environment would connect on our behalf, past the address
            # checks; an operator who needs one can pass a transport.
            trust_env=False,
        )
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def close_unused(self, after: float) -> int:
        """Close the connections of hosts not fetched from for `after` seconds (see `_OriginPools`)."""
        pools = self._client._transport
        return await pools.close_unused(after) if isinstance(pools, _OriginPools) else 0

    # -- the one public operation ------------------------------------------------------

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = DEFAULT_ACCEPT,
        respect_robots: bool | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects; conditional when validators are given.

        `If-None-Match` is sent when an ETag is known, `If-Modified-Since` only without
        one (some servers answer 304 to a stale date although the ETag changed).
        `settings.timeout` bounds the network time of all hops, body included; time spent
        waiting for the host's turn (concurrency, delay) or for robots.txt is not counted,
        so a queue of articles on one site does not time out before it starts.
        `respect_robots=None` follows `settings.respect_robots`.
        """
        robots = self.settings.respect_robots if respect_robots is None else respect_robots
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        elif last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            result = await self._get(
                url, headers, robots=robots, max_bytes=self.settings.max_bytes, truncate=False
            )
        except FetchError:
            raise
        except Exception as exc:  # never let a library error escape: the daemon must go on
            raise _wrap(exc, url, self.settings.timeout) from exc
        if result.not_modified:
            result.etag = result.etag or etag
            result.last_modified = result.last_modified or last_modified
        return result

    # -- redirects, deadline, caps -----------------------------------------------------

    async def _get(
        self,
        url: str,
        headers: dict[str, str],
        *,
        robots: bool,
        max_bytes: int,
        truncate: bool,
    ) -> FetchResult:
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        budget = float(self.settings.timeout)
        current = url
        seen: set[str] = set()
        for hop in range(self.settings.max_redirects + 1):
            target = _parse_url(current)
            seen.add(str(target))
            # The address is checked before robots.txt and before taking a host slot: a
            # refused host costs no request and delays nobody.
            try:
                async with asyncio.timeout(self.settings.connect_timeout):
                    await self._check_address(target)
            except TimeoutError:
                raise FetchError(
                    f"cannot resolve {target.host} in time", kind="timeout", url=url
                ) from None
            if robots:
                await self._check_robots(target)
            host = host_of(str(target))
            async with self._slot(host):
                hop_start = loop.time()
                if budget <= 0:
                    raise _timeout(url, self.settings.timeout)
                try:
                    async with asyncio.timeout(budget):
                        outcome = await self._send(target, headers, max_bytes, truncate)
                except TimeoutError:
                    raise _timeout(str(target), self.settings.timeout) from None
                except httpx.HTTPError as exc:
                    raise _wrap(exc, str(target), self.settings.timeout) from exc
                budget -= loop.time() - hop_start
            if isinstance(outcome, str):  # a redirect: check where it goes before following
                nxt = _parse_url(urljoin(str(target), outcome))
                if str(nxt) in seen:
                    raise FetchError(
                        f"redirect loop at {nxt}", kind="redirects", url=url
                    )
                if hop >= self.settings.max_redirects:
                    raise FetchError(
                        f"more than {self.settings.max_redirects} redirects",
                        kind="redirects", url=url,
                    )
                current = str(nxt)
                continue
            outcome.elapsed = time.monotonic() - started
            return outcome
        raise FetchError(  # only reached when max_redirects is negative
            "too many redirects", kind="redirects", url=url
        )

    async def _send(
        self, target: httpx.URL, headers: dict[str, str], max_bytes: int, truncate: bool
    ) -> FetchResult | str:
        """One request. Returns the result, or the Location of a redirect."""
        request = self._client.build_request("GET", target, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(
                        f"HTTP {status} redirect without a Location", kind="protocol",
                        url=str(target), status=status,
                    )
                return location
            if status >= 300 and status != 304:
                reason = response.reason_phrase or ""
                raise FetchError(
                    f"HTTP {status} {reason}".rstrip() + f" from {target.host}",
                    kind="http", url=str(target), status=status, retry_after=retry_after,
                )
            body = b"" if status == 304 else await _read_capped(response, max_bytes, truncate)
            return FetchResult(
                url=str(target),
                status=status,
                headers=response.headers,
                body=body,
                content_type=response.headers.get("Content-Type"),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                not_modified=status == 304,
                retry_after=retry_after,
                max_age=parse_max_age(response.headers.get("Cache-Control")),
                elapsed=0.0,
            )
        finally:
            await response.aclose()

    # -- politeness --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's concurrency slots, starting no sooner than its delay allows."""
        state = self._host(host)
        state.users += 1
        try:
            async with state.sem:
                async with state.lock:
                    loop = asyncio.get_running_loop()
                    wait = state.next_start - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    delay = max(self.settings.per_host_delay, state.crawl_delay)
                    state.next_start = loop.time() + delay
                yield
        finally:
            state.users -= 1

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            self._prune_hosts()
            state = _Host(asyncio.Semaphore(self.settings.per_host_concurrency), asyncio.Lock())
            self._hosts[host] = state
        return state

    def _prune_hosts(self) -> None:
        """Forget idle hosts whose delay has passed, so months of new hosts cost no memory."""
        if len(self._hosts) < 512:
            return
        now = asyncio.get_running_loop().time()
        for host in [h for h, s in self._hosts.items() if s.users == 0 and s.next_start < now]:
            del self._hosts[host]

    async def _check_robots(self, target: httpx.URL) -> None:
        origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
        parser = await self._robots_for(origin)
        if parser is not None and not parser.can_fetch(str(target), self._agent):
            raise FetchError(
                f"robots.txt of {target.host} disallows {target.raw_path.decode('ascii')}",
                kind="robots", url=str(target),
            )

    async def _robots_for(self, origin: str) -> Protego | None:
        loop = asyncio.get_running_loop()
        cached = self._robots.get(origin)
        if cached is not None and cached.expires > loop.time():
            return cached.parser
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._robots.get(origin)
            if cached is not None and cached.expires > loop.time():
                return cached.parser
            parser, ttl = await self._load_robots(origin)
            self._robots[origin] = _Robots(parser, loop.time() + ttl)
            if parser is not None:
                delay = parser.crawl_delay(self._agent)
                if delay:
                    self._host(host_of(origin)).crawl_delay = min(float(delay), MAX_CRAWL_DELAY)
            return parser

    async def _load_robots(self, origin: str) -> tuple[Protego | None, float]:
        """RFC 9309: 4xx means no rules; 5xx or no answer means allowed for now, ask again soon."""
        try:
            result = await self._get(
                origin + "/robots.txt", {"Accept": "text/plain, */*;q=0.5"},
                robots=False, max_bytes=ROBOTS_MAX_BYTES, truncate=True,
            )
        except FetchError as exc:
            if exc.kind == "http" and exc.status is not None and 400 <= exc.status < 500:
                return None, ROBOTS_TTL
            return None, ROBOTS_RETRY
        except Exception:
            return None, ROBOTS_RETRY
        if result.status != 200:
            return None, ROBOTS_TTL
        try:
            return Protego.parse(result.body.decode("utf-8", "replace")), ROBOTS_TTL
        except Exception:  # a robots.txt protego cannot read imposes nothing
            return None, ROBOTS_TTL

    # -- address safety ----------------------------------------------------------------

    async def _check_address(self, target: httpx.URL) -> None:
        """Refuse hosts that are, or resolve to, anything but public unicast addresses."""
        if self.settings.allow_private_networks:
            return
        host = target.host
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await self._resolve(target)
        for ip in addresses:
            if _refused(ip):
                shown = host if len(addresses) == 1 and _is_literal(host) else f"{host} ({ip})"
                raise FetchError(
                    f"refused to fetch {shown}: not a public address",
                    kind="blocked", url=str(target),
                )

    async def _resolve(self, target: httpx.URL) -> list[IPAddress]:
        """Every address the host resolves to: one private answer is enough to refuse it."""
        port = target.port or (443 if target.scheme == "https" else 80)
        return await _resolve(target.host, port, str(target))


async def _resolve(host: str, port: int, url: str) -> list[IPAddress]:
    """The addresses `host` resolves to now (a literal address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise FetchError(f"cannot resolve {host}", kind="connect", url=url) from exc
    addresses: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        try:
            addresses.append(ipaddress.ip_address(raw))
        except ValueError:
            continue
    if not addresses:
        raise FetchError(f"cannot resolve {host}", kind="connect", url=url)
    return addresses


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses that passed the public-address check, resolving once.

    httpx would otherwise resolve the host a second time when it connects, and a DNS
    server under an attacker's control can answer a public address to the check and
    127.0.0.1 or 169.254.169.254 to the connection. Here the answer that is checked is
    the one connected to; TLS still uses the host name (SNI and certificate), since
    httpcore passes it to `start_tls` separately.
    """

    def __init__(self, *, check: bool = True) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._check = check

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not self._check:  # allow_private_networks: any address, httpcore's own resolution
            return _Stream(await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address, socket_options=socket_options))
        url = f"//{host}:{port}"
        try:
            async with asyncio.timeout(timeout):
                addresses = await _resolve(host, port, url)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"cannot resolve {host} in time") from None
        for ip in addresses:
            if _refused(ip):
                raise FetchError(
                    f"refused to fetch {host} ({ip}): not a public address", kind="blocked", url=url
                )
        error: Exception | None = None
        for ip in addresses:
            try:
                return _Stream(await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                ))
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - never configured
        raise httpcore.ConnectError("newswatch does not fetch over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    """anyio's stream with a cheap answer to the pool's "is this idle socket readable?".

    httpcore's pool asks that of every idle connection whenever any request starts or
    ends; anyio answers by building its whole attribute table (a `getpeername` system
    call and a dozen closures) each time, which made the pool the biggest CPU cost of a
    poll. Here it is one `poll(2)` on the socket kept from the start.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream, sock: socket.socket | None = None) -> None:
        self._inner = inner
        self._sock: socket.socket | None = sock if sock is not None else inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout), self._sock)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._sock)
        if info == "socket":
            return self._sock
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket | None) -> bool:
    """Whether a socket has data or EOF waiting (for an idle connection: the server closed it)."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _checked_transport(*, http2: bool, limits: httpx.Limits, check: bool = True,
                       ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, connecting through `_CheckedBackend` (with `check`, to public addresses only).

    httpx 0.28 takes no network backend, so the pool's is replaced; if a future httpcore
    renames the attribute this fails loudly at start-up instead of silently checking less.
    """
    transport = httpx.AsyncHTTPTransport(http2=http2, limits=limits, retries=0,
                                         verify=ssl_context if ssl_context is not None else True)
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):  # pragma: no cover - guards an upgrade
        raise RuntimeError("httpcore changed: cannot pin connections to checked addresses")
    pool._network_backend = _CheckedBackend(check=check)
    return transport


SYSTEM_CA_DIR: str = ssl.get_default_verify_paths().openssl_capath
"""Where this OpenSSL looks for CA certificates by default (/usr/lib/ssl/certs, i.e.
/etc/ssl/certs, on Debian), kept by `update-ca-certificates` under hashed names."""
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
"""A certificate's name in a hashed directory: `<subject hash>.<n>`, as `openssl rehash` writes it."""


def verified_context() -> ssl.SSLContext:
    """The TLS context every pool shares: certificates verified, host names checked.

    An operator's `SSL_CERT_FILE` or `SSL_CERT_DIR` is used as httpx would. Otherwise, where
    the system keeps a hashed CA directory, OpenSSL looks each issuer up there when a
    handshake needs it, rather than parsing a whole bundle at start that an idle daemon
    then holds (about 1.5 MB for certifi's); without one, certifi's bundle as before.
    Either way a certificate that does not chain to a trusted CA, or names another host,
    is refused.
    """
    if not (os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")) and _hashed(SYSTEM_CA_DIR):
        return ssl.create_default_context(capath=SYSTEM_CA_DIR)
    return httpx.create_ssl_context()


def _hashed(directory: str) -> bool:
    """Whether `directory` holds certificates under hashed names (OpenSSL finds no others in it)."""
    try:
        with os.scandir(directory) as entries:
            return any(_HASHED_NAME.fullmatch(e.name) for e in entries)
    except OSError:
        return False


MAX_IDLE_POOLS = 256
"""Origins whose idle connections are kept; past that the least recently used idle pool is closed."""


class _OriginPools(httpx.AsyncBaseTransport):
    """One small connection pool per origin (scheme, host, port), each a `_checked_transport`.

    httpcore's pool looks at every connection it holds whenever a request starts or ends,
    so one pool for a hundred hosts costs a hundred checks per request. Requests to one
    origin never exceed the host's concurrency (the fetcher's slots), which is each pool's
    size; pools of origins not asked for a while are closed once more than
    `MAX_IDLE_POOLS` are kept, so months of new hosts cost no sockets, and `close_unused`
    closes those an idle daemon would otherwise hold until the next poll.
    """

    def __init__(self, *, http2: bool, limits: httpx.Limits, check: bool,
                 max_idle_pools: int = MAX_IDLE_POOLS) -> None:
        self._http2 = http2
        self._limits = limits
        self._check = check
        self._max_idle = max_idle_pools
        # One verified context for every pool: creating one costs milliseconds a time.
        self._ssl = verified_context()
        first = _checked_transport(http2=http2, limits=limits, check=check, ssl_context=self._ssl)
        self._spare: httpx.AsyncHTTPTransport | None = first
        """Built at start so that an httpcore without the backend hook fails then, not at a request."""
        self._pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        self._last_used: dict[tuple[bytes, bytes, int | None], float] = {}
        """When each origin's pool last started a request (monotonic seconds)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        self._last_used[key] = time.monotonic()
        pool = self._pools.pop(key, None)
        if pool is None:
            if len(self._pools) >= self._max_idle:
                await self._close_idle()
            pool, self._spare = self._spare, None
            if pool is None:
                pool = _checked_transport(http2=self._http2, limits=self._limits, check=self._check,
                                          ssl_context=self._ssl)
        self._pools[key] = pool  # re-inserted: the dict's order is least recently used first
        return await pool.handle_async_request(request)

    async def _close_idle(self) -> None:
        """Close the least recently used pools that have no request in flight."""
        excess = len(self._pools) - self._max_idle + 1
        for key in list(self._pools):
            if excess <= 0:
                return
            if _idle(self._pools[key]):
                await self._close(key)
                excess -= 1

    async def close_unused(self, after: float) -> int:
        """Close the pools of origins not asked for `after` seconds, with nothing in flight.

        Their kept-alive connections would not be reused anyway once older than httpx's
        keep-alive expiry (5 s): closed now, an idle daemon holds no sockets or TLS state
        for the hosts of its last poll. Returns how many were closed.
        """
        cutoff = time.monotonic() - after
        unused = [key for key, pool in self._pools.items() if self._last_used.get(key, 0.0) <= cutoff and _idle(pool)]
        for key in unused:
            await self._close(key)
        return len(unused)

    async def _close(self, key: tuple[bytes, bytes, int | None]) -> None:
        self._last_used.pop(key, None)
        await self._pools.pop(key).aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        self._last_used.clear()
        if self._spare is not None:
            pools.append(self._spare)
            self._spare = None
        for pool in pools:
            await pool.aclose()


def _idle(transport: httpx.AsyncHTTPTransport) -> bool:
    """No request queued or in flight in this transport's pool (closing it breaks nobody's response)."""
    return all(c.is_idle() for c in transport._pool.connections) and not transport._pool._requests


class _Inflate:
    """One gzip or deflate layer, inflating at most `INFLATE_STEP` bytes per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._d: Any = None
        self._head = b""
        """The first bytes, held until two have come: they tell zlib-wrapped from raw deflate."""
        self._done = False

    def _start(self, data: bytes) -> None:
        if self.encoding == "deflate":
            # RFC 9110 deflate is zlib-wrapped; some servers send raw deflate anyway.
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        else:
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._done:
            return  # bytes after the end of the stream are ignored, as browsers do
        if self._d is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._start(data)
        while True:
            out = self._d.decompress(data, INFLATE_STEP)
            data = self._d.unconsumed_tail
            if out:
                yield out
            if self._d.eof:
                rest = self._d.unused_data
                if self.encoding != "deflate" and rest[:2] == b"\x1f\x8b":  # another gzip member
                    self._start(rest)
                    data = rest
                    continue
                self._done = True
                return
            if not data and not out:
                return


class _Unbrotli:
    """One brotli layer, producing at most `INFLATE_STEP` bytes per step."""

    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d.is_finished():
            return
        out = self._d.process(data, output_buffer_limit=INFLATE_STEP)
        if out:
            yield out
        while not self._d.can_accept_more_data() and not self._d.is_finished():
            out = self._d.process(b"", output_buffer_limit=INFLATE_STEP)
            if not out:
                return
            yield out


def _decoders(content_encoding: str) -> list[_Inflate | _Unbrotli]:
    """Layers to undo, outermost first; unknown codings are passed through, as httpx does."""
    layers: list[_Inflate | _Unbrotli] = []
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        if coding in ("gzip", "x-gzip", "deflate"):
            layers.append(_Inflate("deflate" if coding == "deflate" else "gzip"))
        elif coding == "br":
            layers.append(_Unbrotli())
    return layers


def _decode(layers: list[_Inflate | _Unbrotli], data: bytes) -> Iterator[bytes]:
    """Push one raw chunk through every layer, piece by bounded piece."""
    if not layers:
        if data:
            yield data
        return
    for piece in layers[0].feed(data):
        yield from _decode(layers[1:], piece)


async def _read_capped(response: httpx.Response, max_bytes: int, truncate: bool) -> bytes:
    """Read the decoded body, stopping as soon as it exceeds `max_bytes`.

    The body is read raw and inflated here in bounded steps: httpx inflates each network
    chunk whole, and 64 KiB of gzip can inflate to 64 MB before any cap is checked.
    """
    declared = response.headers.get("Content-Length")
    # Content-Length counts compressed bytes; the decoded body is at least as big in practice.
    if not truncate and declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            f"response of {int(declared)} bytes is over the {max_bytes}-byte limit",
            kind="too_large", url=str(response.request.url),
        )
    layers = _decoders(response.headers.get("Content-Encoding", ""))
    chunks: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            for chunk in _decode(layers, raw):
                size += len(chunk)
                if size > max_bytes:
                    if truncate:
                        chunks.append(chunk[: len(chunk) - (size - max_bytes)])
                        return b"".join(chunks)
                    raise FetchError(
                        f"response is over the {max_bytes}-byte limit",
                        kind="too_large", url=str(response.request.url),
                    )
                chunks.append(chunk)
    except (zlib.error, brotli.error) as exc:
        if truncate and chunks:  # a cut robots.txt is still worth its first part
            return b"".join(chunks)
        raise FetchError(
            f"cannot decode the response ({response.headers.get('Content-Encoding')}): {exc}",
            kind="protocol", url=str(response.request.url),
        ) from None
    return b"".join(chunks)


def _parse_url(url: str) -> httpx.URL:
    if len(url) > MAX_URL_LENGTH:
        raise FetchError(
            f"URL longer than {MAX_URL_LENGTH} characters", kind="invalid_url", url=url[:200]
        )
    try:
        target = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchError(f"invalid URL {url!r}", kind="invalid_url", url=url) from exc
    if target.scheme not in ("http", "https"):
        raise FetchError(
            f"only http and https URLs are fetched, not {target.scheme or 'a relative'!s} URLs",
            kind="invalid_url", url=url,
        )
    if not target.host:
        raise FetchError(f"URL has no host: {url!r}", kind="invalid_url", url=url)
    return target


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _timeout(url: str, seconds: float) -> FetchError:
    return FetchError(f"no complete response within {seconds:g}s", kind="timeout", url=url)


def _wrap(exc: BaseException, url: str, deadline: float) -> FetchError:
    """A short FetchError for a library exception (httpx, h2, ssl, OS)."""
    detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return _timeout(url, deadline)
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"cannot connect: {detail}", kind="connect", url=url)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(f"invalid URL: {detail}", kind="invalid_url", url=url)
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.NetworkError | OSError):
        return FetchError(f"connection lost: {detail}", kind="connect", url=url)
    if isinstance(exc, httpx.DecodingError):
        return FetchError(f"cannot decode the response: {detail}", kind="protocol", url=url)
    if isinstance(exc, httpx.HTTPError):
        return FetchError(f"bad HTTP response: {detail}", kind="protocol", url=url)
    return FetchError(f"unexpected error: {type(exc).__name__}: {detail}", kind="protocol", url=url)


def fetch_page(url: str, settings: HttpSettings) -> FetchResult:
    """Fetch one URL now, outside the daemon (for `extract URL` and `rules test --url`)."""

    async def get() -> FetchResult:
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(get())
