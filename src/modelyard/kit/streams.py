"""How many event streams (SSE) this process holds open, in all and per user.

A stream holds a connection for as long as the client stays, so streams are counted apart
from ordinary requests: past ``server.max_streams`` in the process, or
``server.max_streams_per_user`` for one user, a new stream is refused with a 429 problem
(``Retry-After``) while ordinary requests are still served (the server's concurrency limit,
``server.max_connections``, leaves room for them above ``max_streams``). A stream opened on
behalf of another one in the same request (the web UI's ``/events`` reads the API's streams
through the app) shares its slot.
"""

from __future__ import annotations

import threading
from collections import Counter

from modelyard.kit.errors import TooManyRequests

RETRY_AFTER_SECONDS = 10
HELD = "modelyard.stream_slot"
"""Set in a request's state while it holds a slot (copied into its nested requests)."""


class StreamLimiter:
    def __init__(self, total: int, per_user: int) -> None:
        self.total = total
        self.per_user = per_user
        self._open: Counter[str] = Counter()
        self._count = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        return self._count

    def acquire(self, user: str) -> None:
        """Take a slot for ``user`` or raise the 429 that says which limit is reached."""
        with self._lock:
            if self._open[user] >= self.per_user:
                raise TooManyRequests(
                    f"User '{user}' already has {self._open[user]} event streams open on this "
                    f"server process, the most one user may (server.max_streams_per_user); "
                    "close one (a browser shares one stream among its tabs).",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            if self._count >= self.total:
                raise TooManyRequests(
                    f"This server process holds {self._count} event streams, its limit "
                    "(server.max_streams); try again shortly or use another server.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._open[user] += 1
            self._count += 1

    def release(self, user: str) -> None:
        with self._lock:
            self._open[user] -= 1
            self._count -= 1
            if self._open[user] <= 0:
                del self._open[user]
