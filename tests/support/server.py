"""A real HTTP server on 127.0.0.1 for tests.

Tests talk to a real socket rather than a mock transport so that what they prove
(timeouts, size caps, conditional GET, redirects, robots.txt, per-host limits) holds
for the real client stack too. The server runs in daemon threads, binds port 0 and
never prints tracebacks when a client hangs up early (the fetcher does that on purpose
when it enforces a size cap or a deadline).

    with LoopbackServer() as server:
        server.route("/feed.xml", rss, content_type="application/rss+xml", etag='"v1"')
        ...fetch server.url("/feed.xml")...
        assert server.hits("/feed.xml") == 1
"""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["LoopbackServer", "RecordedRequest", "Response"]

# Errors that only mean "the client went away"; they are expected, not failures.
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(slots=True)
class RecordedRequest:
    """One request as the server saw it. `time` is `time.monotonic()` at arrival."""

    method: str
    path: str
    """Request target as sent: path plus query string."""
    headers: dict[str, str]
    """Header names lower-cased; a repeated header keeps its last value."""
    time: float
    body: bytes = b""


@dataclass(slots=True)
class Response:
    """What a dynamic handler returns.

    `delay` (seconds) dribbles the body out in pieces after the headers, to imitate a
    slow server. A `Transfer-Encoding: chunked` header makes the server send the body
    chunked (no Content-Length), so a client cannot know the size in advance.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(slots=True)
class _StaticRoute:
    body: bytes
    status: int
    headers: dict[str, str]
    content_type: str
    etag: str | None
    last_modified: str | None
    delay: float

    def respond(self, request: RecordedRequest) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", {"Allow": "GET, HEAD"})
        headers = {"Content-Type": self.content_type}
        if self.etag is not None:
            headers["ETag"] = self.etag
        if self.last_modified is not None:
            headers["Last-Modified"] = self.last_modified
        headers.update(self.headers)
        if self._not_modified(request.headers):
            keep = {k: v for k, v in headers.items() if k.lower() not in _ENTITY_HEADERS}
            return Response(status=304, headers=keep)
        return Response(status=self.status, body=self.body, headers=headers, delay=self.delay)

    def _not_modified(self, req: dict[str, str]) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since counts only without it.
        inm = req.get("if-none-match")
        if inm is not None:
            if self.etag is None:
                return False
            tags = {_weak_strip(t) for t in inm.split(",")}
            return "*" in tags or _weak_strip(self.etag) in tags
        ims = req.get("if-modified-since")
        if ims is None or self.last_modified is None:
            return False
        if ims == self.last_modified:
            return True
        try:
            return email.utils.parsedate_to_datetime(ims) >= email.utils.parsedate_to_datetime(
                self.last_modified
            )
        except (TypeError, ValueError):
            return False


_ENTITY_HEADERS = {"content-type", "content-length", "content-encoding", "transfer-encoding"}


def _weak_strip(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


Handler = Callable[[RecordedRequest], Response]


class LoopbackServer:
    """A `ThreadingHTTPServer` on 127.0.0.1 with routes, a request log and hit counts.

    Routes whose path has a query string match the full request target; others match
    the path alone, whatever the query. Unknown paths (including `/robots.txt`) get 404.
    """

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        """Exceptions raised by dynamic handlers (answered with 500)."""
        self.in_flight = 0
        self.max_in_flight = 0
        """Most requests the server was handling at once (any path) since `reset_log`."""
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> LoopbackServer:
        if self._httpd is not None:
            return self
        httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"loopback-{httpd.server_address[1]}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    # -- routes ------------------------------------------------------------------

    def url(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "text/html; charset=utf-8",
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve a fixed response for GET/HEAD, answering 304 to matching validators."""
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        static = _StaticRoute(
            data, status, dict(headers or {}), content_type, etag, last_modified, delay
        )
        with self._lock:
            self._routes[path] = static.respond

    def handler(self, path: str, fn: Handler) -> None:
        """Serve `path` (any method) by calling `fn` in the server thread."""
        with self._lock:
            self._routes[path] = fn

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Shorthand for a redirect route (`location` may be relative)."""
        self.route(path, b"", status=status, headers={"Location": location})

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    def _find(self, target: str) -> Handler | None:
        with self._lock:
            fn = self._routes.get(target)
            if fn is None:
                fn = self._routes.get(urlsplit(target).path)
            return fn

    # -- request log -------------------------------------------------------------

    def hits(self, path: str) -> int:
        """Requests for `path` (matched the way routes are: with or without its query)."""
        with self._lock:
            log = list(self.requests)
        if "?" in path:
            return sum(1 for r in log if r.path == path)
        return sum(1 for r in log if urlsplit(r.path).path == path)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            log = list(self.requests)
        if "?" in path:
            return [r for r in log if r.path == path]
        return [r for r in log if urlsplit(r.path).path == path]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.errors.clear()
            self.max_in_flight = self.in_flight

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up is not a server bug: stay quiet. Anything else is
        # still worth seeing, but briefly.
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, _DISCONNECTS | OSError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "LoopbackServer/1"
        timeout = 30  # idle keep-alive connections end on their own

        def log_message(self, format: str, *args: object) -> None:
            pass

        def handle(self) -> None:
            with contextlib.suppress(*_DISCONNECTS, OSError):
                super().handle()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                time=time.monotonic(),
                body=body,
            )
            server._record(req)
            try:
                self._respond(req)
            finally:
                server._done()

        def _respond(self, req: RecordedRequest) -> None:
            fn = server._find(req.path)
            if fn is None:
                resp = Response(404, b"not found\n", {"Content-Type": "text/plain"})
            else:
                try:
                    resp = fn(req)
                except Exception as exc:
                    server.errors.append(exc)
                    resp = Response(500, f"handler error: {exc!r}\n".encode(),
                                    {"Content-Type": "text/plain"})
            self._send(req, resp)

        def _send(self, req: RecordedRequest, resp: Response) -> None:
            body = resp.body.encode("utf-8") if isinstance(resp.body, str) else resp.body
            headers = dict(resp.headers)
            names = {k.lower(): k for k in headers}
            chunked = headers.get(names.get("transfer-encoding", ""), "").lower() == "chunked"
            no_body = req.method == "HEAD" or resp.status in (204, 304) or resp.status < 200
            self.send_response(resp.status)
            for name, value in headers.items():
                self.send_header(name, value)
            if not chunked and "content-length" not in names and resp.status not in (204, 304):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            if no_body:
                return
            pieces = _split(body, 10 if resp.delay > 0 else 1)
            pause = resp.delay / len(pieces) if resp.delay > 0 else 0.0
            for piece in pieces:
                if pause:
                    time.sleep(pause)
                if chunked:
                    if piece:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    return _Handler


def _split(body: bytes, n: int) -> list[bytes]:
    if n <= 1 or len(body) <= 1:
        return [body]
    size = max(1, -(-len(body) // n))
    return [body[i : i + size] for i in range(0, len(body), size)]

