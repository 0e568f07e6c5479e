"""When the client tries a request again, and how long it waits first.

Retried: a connection that could not be opened (any method: nothing was sent), a connection
that broke while an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) was under way, and
the answers 429 and 503, which say the server did not act on the request. The wait is the
server's ``Retry-After`` (seconds or an HTTP date) when it sends one, else an exponential
backoff with full jitter. A ``Retry-After`` longer than ``max_retry_after`` is not waited
for: the :class:`~modelyard.client.ApiError` is raised with ``retry_after`` set, so a caller
can decide. Request bodies that cannot be sent twice (a file streamed from disk) are retried
only when the connection could not be opened.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass

__all__ = ["IDEMPOTENT_METHODS", "RETRY_STATUSES", "RetryPolicy", "parse_retry_after"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` further attempts after the first; waits from ``backoff`` up to ``max_backoff``."""

    retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
        if attempt >= self.retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


NO_RETRIES = RetryPolicy(retries=0)


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` in seconds: an integer, or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
