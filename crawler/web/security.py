"""Who may use the review app, and proof that a POST came from its own pages.

Authentication exists only when `review.token` is set (it must be, off loopback):
the token is accepted as `Authorization: Bearer …` (scripts, Prometheus), as the
password of HTTP Basic auth (feed readers), or through the login form, which sets a
session cookie holding an HMAC of the token (changing the token logs everyone out).

CSRF uses signed double-submit cookies: a random nonce in a SameSite cookie and, in
each form or `X-CSRF-Token` header, an HMAC of that nonce under a per-process secret.
Another site can neither read the token nor forge one, even by planting the cookie
(a page on another localhost port can set cookies for this one). Bearer-token
requests skip the check: a browser never adds that header on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets

from starlette.requests import Request

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "Guard",
    "is_loopback",
]

SESSION_COOKIE = "newswatch_session"
CSRF_COOKIE = "newswatch_csrf"


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (`127.0.0.0/8`, `::1`)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """Checks credentials and CSRF tokens for one app instance."""

    def __init__(self, token: str | None, *, secret: bytes | None = None) -> None:
        self.token = token or None
        self._secret = secret or secrets.token_bytes(32)

    @property
    def enabled(self) -> bool:
        return self.token is not None

    # -- authentication ----------------------------------------------------

    def session_value(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), b"newswatch-session", hashlib.sha256).hexdigest()

    def check_password(self, password: str) -> bool:
        return self.token is not None and hmac.compare_digest(password.encode(), self.token.encode())

    def bearer(self, request: Request) -> bool:
        """True when the request carries the right bearer token."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.check_password(value.strip())

    def authenticated(self, request: Request) -> bool:
        if not self.enabled:
            return True
        if self.bearer(request):
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return self.check_password(password)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self.session_value())

    # -- CSRF --------------------------------------------------------------

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, submitted: str | None) -> bool:
        """True when `submitted` is the token for this browser's CSRF cookie."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(nonce), submitted)
