"""Password hashing (argon2id), random secrets for tokens and sessions, safe file-name labels,
the recognition of pickle files (refused wherever a file comes in: artifacts, datasets, model
loading), and the client's address as seen through trusted reverse proxies."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Sequence

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


PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".pck", ".dill")
PICKLE_REFUSAL = (
    "Pickle and joblib files are refused: loading one runs arbitrary code. Upload a "
    "scikit-learn model saved with skops (`skops.io.dump(model, 'model.skops')`, flavor "
    "'sklearn'), an ONNX file (flavor 'onnx'), or a formula model with JSON parameters."
)


def looks_like_pickle(head: bytes, filename: str | None) -> bool:
    """Whether a file is (or claims by its name to be) a pickle or a joblib dump, from its
    first bytes (16 are enough) and its name."""
    if filename and filename.lower().endswith(PICKLE_SUFFIXES):
        return True
    # Pickle protocols 2-5 start with PROTO (0x80) and the protocol number; joblib's
    # compressed dumps start with a zlib header around a pickle.
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return (
        head[:2] in (b"x\x9c", b"x\xda", b"x\x01") and filename is not None and "joblib" in filename
    )


def _trusted(address: str, proxies: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in proxies  # a name (e.g. a test client's) is trusted only by name
    for entry in proxies:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str:
    """The address a request came from: the TCP ``peer`` unless it is one of the
    ``trusted_proxies`` (addresses or networks), in which case the rightmost
    ``X-Forwarded-For`` entry that is not a trusted proxy itself. Entries left of it were
    written by the client and are never believed; a malformed entry stops the walk there."""
    if not trusted_proxies or not forwarded_for or not _trusted(peer, trusted_proxies):
        return peer
    address = peer
    for hop in reversed(forwarded_for.split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address
        address = hop
        if not _trusted(hop, trusted_proxies):
            return hop
    return address
