"""Reviewers' names and secrets: what `[review.users]` holds, hashed with the stdlib's scrypt.

The config file keeps only a hash per reviewer (`scrypt$16384$8$1$<salt>$<hash>`, base64),
so reading it does not reveal a token. `newswatch users add` writes one; the review app
checks a presented token against it in constant time. Standard library only: the
daemon and the CLI load this without the web framework.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import re
import secrets

__all__ = ["HASH_PATTERN", "LOCAL_REVIEWER", "NAME_PATTERN", "TOKEN_REVIEWER", "hash_secret", "local_user",
           "new_token", "verify_secret"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""A reviewer's name: what marks record and the list filters by."""
HASH_PATTERN = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"
LOCAL_REVIEWER = "local"
"""Recorded on loopback without tokens when the local user's name is unknown."""
TOKEN_REVIEWER = "token"
"""Recorded for marks made with the shared `review.token`, which names nobody."""

_N, _R, _P = 2**14, 8, 1  # scrypt's interactive-login parameters (about 16 MiB, a few tens of ms)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * p + 2**20,
                          dklen=32)


def hash_secret(secret: str) -> str:
    """The string to keep in `[review.users]` for `secret`, with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt, _N, _R, _P)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """True when `secret` hashes to `stored` (constant-time comparison); False for a malformed hash."""
    if not re.match(HASH_PATTERN, stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    if int(n) > 2**20 or int(r) > 32 or int(p) > 16:  # a hash from a hostile file must not exhaust memory
        return False
    try:
        want = base64.b64decode(digest, validate=True)
        got = _scrypt(secret, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, want)


def new_token() -> str:
    """A reviewer's token: long, random, safe in a header, a URL and a password field."""
    return secrets.token_urlsafe(32)


def local_user() -> str:
    """Who marks on loopback without tokens, or from the CLI: the OS user, else `local`."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):
        return LOCAL_REVIEWER
    return name if re.match(NAME_PATTERN, name) else LOCAL_REVIEWER
