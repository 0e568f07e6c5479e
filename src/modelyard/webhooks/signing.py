"""``X-Modelyard-Signature``: how a webhook body is signed, and how a receiver checks it.

The header is ``t=<unix seconds>,v1=<hex>``, where ``v1`` is HMAC-SHA256 keyed with the
webhook's secret over ``"<t>." + body`` (the raw bytes as received). The timestamp is that of
the attempt, so a retry carries a fresh one, and a receiver refuses old timestamps to stop a
captured request from being replayed later. Standard library only: receivers may import this
module without the server's dependencies (the README shows the same check in a few lines).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Modelyard-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_seconds``
    old. Several ``v1`` values may be given (one per secret while a secret is rotated)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [value for key, value in fields if key.strip() == "t"]
    signatures = [value.strip() for key, value in fields if key.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, body, timestamp).rsplit("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
