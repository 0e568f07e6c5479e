"""Password hashing (argon2id) and random secrets for tokens and sessions."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

TOKEN_PREFIX = "my_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    """A token of 256 random bits, prefixed so that leaked tokens are easy to grep for."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def plain_filename(name: str | None, *, max_length: int = 255) -> str | None:
    """A client-supplied file name reduced to a label: its last path component, without
    control characters (NUL, CR, LF), at most ``max_length`` characters; None when nothing
    is left. It is kept as metadata and sent back in Content-Disposition, never used as a path.
    """
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    base = _UNPRINTABLE.sub("", base).strip()
    if base in ("", ".", ".."):
        return None
    return base[-max_length:]
