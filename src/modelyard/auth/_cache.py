"""An in-process cache of resolved credentials, so that most requests skip the token lookup.

Every authenticated request maps its secret to a user. Without a cache that is a database
round trip (and, in the server, a thread hop) per request; with it, a dictionary lookup. An
entry lives ``TTL_SECONDS`` at most and never past the token's own expiry. Revoking a token,
ending a session, disabling a user or changing a role drops the user's entries in this process
when the change commits; other server processes see such a change within ``TTL_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from modelyard.auth.schemas import Principal

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    kind: str
    valid_until: float  # time.monotonic()


class CredentialCache:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, secret_hash: str, kind: str) -> Principal | None:
        entry = self._entries.get(secret_hash)
        if entry is None or entry.kind != kind:
            return None
        if entry.valid_until <= time.monotonic():
            self._entries.pop(secret_hash, None)
            return None
        return entry.principal

    def put(
        self, secret_hash: str, kind: str, principal: Principal, expires_in: float | None
    ) -> None:
        lifetime = self.ttl if expires_in is None else min(self.ttl, expires_in)
        if lifetime <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = time.monotonic()
                self._entries = {k: e for k, e in self._entries.items() if e.valid_until > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[secret_hash] = _Entry(principal, kind, time.monotonic() + lifetime)

    def drop(self, secret_hash: str) -> None:
        self._entries.pop(secret_hash, None)

    def drop_user(self, user_id: int) -> None:
        with self._lock:
            self._entries = {k: e for k, e in self._entries.items() if e.principal.id != user_id}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


credentials = CredentialCache()
