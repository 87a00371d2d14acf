"""Who may use the review app, and proof that a POST came from its own pages.

Authentication exists only when `review.token` or `[review.users]` is set (one must
be, off loopback): a token is accepted as `Authorization: Bearer …` (scripts,
Prometheus; `name:token` for a reviewer's own), as the password of HTTP Basic auth
(feed readers), or through the login form, which sets a session cookie naming the
reviewer with an HMAC keyed by that reviewer's stored hash (a new token logs it out).

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
from collections.abc import Mapping

from starlette.requests import Request

from ..reviewers import LOCAL_REVIEWER, TOKEN_REVIEWER, verify_secret

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
    """Checks credentials and CSRF tokens for one app instance, and says who a request is from.

    Credentials are the shared `review.token` (marks record `token`) or a reviewer's own
    token from `[review.users]` (marks record the name). Without either, everyone is
    the local reviewer (loopback only: `serve` refuses otherwise).
    """

    def __init__(self, token: str | None, *, users: Mapping[str, str] | None = None,
                 local: str = LOCAL_REVIEWER, secret: bytes | None = None) -> None:
        self.token = token or None
        self.users = dict(users or {})
        self.local = local
        self._secret = secret or secrets.token_bytes(32)
        self._known: dict[bytes, str] = {}
        """Digests of tokens already checked, so each request does not pay for scrypt again."""

    @property
    def enabled(self) -> bool:
        return self.token is not None or bool(self.users)

    # -- authentication ----------------------------------------------------

    def session_value(self, reviewer: str) -> str:
        """The session cookie for `reviewer`; changing that reviewer's token (or the shared one) logs it out."""
        key = (self.users.get(reviewer) if reviewer != TOKEN_REVIEWER else self.token) or ""
        mac = hmac.new(key.encode(), b"newswatch-session:" + reviewer.encode(), hashlib.sha256).hexdigest()
        return f"{reviewer}:{mac}"

    def check_password(self, password: str, name: str | None = None) -> str | None:
        """The reviewer whose token `password` is (only `name`'s, when given), or None."""
        if not password:
            return None
        digest = hashlib.sha256(password.encode()).digest()
        known = self._known.get(digest)
        if known is not None and (name is None or name == known):
            return known
        found: str | None = None
        if name in self.users:
            found = name if verify_secret(password, self.users[name]) else None
        elif self.token is not None and hmac.compare_digest(password.encode(), self.token.encode()):
            found = TOKEN_REVIEWER
        elif name is None:
            found = next((n for n, h in self.users.items() if verify_secret(password, h)), None)
        if found is not None and found != TOKEN_REVIEWER and len(self._known) < 10000:
            self._known[digest] = found
        return found

    def _bearer_reviewer(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        value = value.strip()
        name, sep, secret = value.partition(":")
        if sep and name in self.users:  # `name:token` names the reviewer, so one hash is checked
            return self.check_password(secret, name)
        return self.check_password(value)

    def bearer(self, request: Request) -> bool:
        """True when the request carries a right bearer token."""
        return self.enabled and self._bearer_reviewer(request) is not None

    def reviewer(self, request: Request) -> str | None:
        """Who sent the request (None: nobody we know, so not authenticated)."""
        if not self.enabled:
            return self.local
        who = self._bearer_reviewer(request)
        if who is not None:
            return who
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return self.check_password(password, user if user in self.users else None)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        name = cookie.rpartition(":")[0]
        if name and (name in self.users or (name == TOKEN_REVIEWER and self.token is not None)) \
                and hmac.compare_digest(cookie, self.session_value(name)):
            return name
        return None

    def authenticated(self, request: Request) -> bool:
        return self.reviewer(request) is not None

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
