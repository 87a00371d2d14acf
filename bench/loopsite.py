"""A fast loopback news site for benchmarks: asyncio, keep-alive, ETag/304, latency, many hosts.

The tests' `LoopbackServer` (threads, one per connection) is right for proving behaviour;
a benchmark needs a server that costs little CPU of its own, can pretend to be a hundred
hosts (it binds several 127.0.0.x addresses on one port) and adds latency without a thread
per request. Routes are static bodies, looked up by (host address, path) or by path alone.

    site = LoopSite(hosts=["127.0.0.2", "127.0.0.3"], latency=(0.05, 0.2))
    site.route("/f1.xml", rss_bytes, content_type="application/rss+xml", etag='"v1"')
    with site.running() as port: ...   # serves in a background thread with its own loop

It is bench code: it binds loopback addresses only and refuses anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["LoopSite"]


@dataclass(slots=True)
class _Route:
    body: bytes
    content_type: str
    etag: str | None


class LoopSite:
    """Static routes served on one port of one or more loopback addresses."""

    def __init__(
        self,
        hosts: list[str] | None = None,
        latency: float | tuple[float, float] = 0.0,
        seed: int = 1,
    ) -> None:
        self.hosts = hosts or ["127.0.0.1"]
        for h in self.hosts:
            if not ipaddress.ip_address(h).is_loopback:
                raise ValueError(f"{h} is not a loopback address")
        self.latency = latency
        self._rng = random.Random(seed)
        self._routes: dict[tuple[str | None, str], _Route] = {}
        self.requests = 0
        self.not_modified = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.base_events.Server] = []

    def route(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        etag: str | None = None,
        host: str | None = None,
    ) -> None:
        """Serve `body` at `path` (on `host` only when given)."""
        data = body.encode() if isinstance(body, str) else body
        self._routes[(host, path)] = _Route(data, content_type, etag)

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.hosts[0]}:{self.port}{path}"

    def _delay(self) -> float:
        if isinstance(self.latency, tuple):
            return self._rng.uniform(*self.latency)
        return self.latency

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")[0]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                path = target.split("?", 1)[0]
                route = self._routes.get((local, path)) or self._routes.get((None, path))
                self.requests += 1
                delay = self._delay()
                if delay:
                    await asyncio.sleep(delay)
                if route is None:
                    status, body, extra = "404 Not Found", b"not found\n", ""
                    ctype = "text/plain"
                elif route.etag and headers.get("if-none-match") == route.etag:
                    self.not_modified += 1
                    status, body, ctype = "304 Not Modified", b"", route.content_type
                    extra = f"ETag: {route.etag}\r\n"
                else:
                    status, body, ctype = "200 OK", route.body, route.content_type
                    extra = f"ETag: {route.etag}\r\n" if route.etag else ""
                if method == "HEAD":
                    body = b""
                writer.write(
                    (
                        f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(body)}\r\n{extra}\r\n"
                    ).encode()
                    + body
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _start(self) -> None:
        first = await asyncio.start_server(self._handle, self.hosts[0], self.port, backlog=1024)
        self.port = first.sockets[0].getsockname()[1]
        self._servers = [first]
        for host in self.hosts[1:]:
            self._servers.append(
                await asyncio.start_server(self._handle, host, self.port, backlog=1024)
            )

    @contextlib.contextmanager
    def running(self) -> Iterator[int]:
        """Serve in a background thread; yields the port."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start())
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="loopsite", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("loopback site did not start")
        try:
            yield self.port
        finally:

            async def close() -> None:
                for s in self._servers:
                    s.close()

            asyncio.run_coroutine_threadsafe(close(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
