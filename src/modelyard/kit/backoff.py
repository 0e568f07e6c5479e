"""Waiting out a dependency that is away (the database, Redis) without flooding the log.

:class:`Outage` is what a loop that talks to a dependency keeps: on each failure it returns
how long to wait (doubling from ``first`` to ``longest`` seconds) and logs one line per
back-off step, however many threads share it; the first success after a failure logs one
line saying the dependency is back. :func:`wait_until` and :func:`await_until` use one to
hold a start-up until a check passes: one log line per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

FIRST_SECONDS = 0.5
LONGEST_SECONDS = 30.0


def describe_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line (driver errors span several), at most ``limit`` chars."""
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Outage:
    """Back-off and logging for one dependency, shared by every thread that uses it."""

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        *,
        first: float = FIRST_SECONDS,
        longest: float = LONGEST_SECONDS,
        traceback: bool = False,
    ) -> None:
        self.what = what
        self.traceback = traceback
        self.logger = logger
        self.first = first
        self.longest = longest
        self._lock = threading.Lock()
        self._delay = 0.0
        self._failures = 0
        self._since: float | None = None
        self._next_log = 0.0

    @property
    def down(self) -> bool:
        return self._since is not None

    @property
    def failures(self) -> int:
        return self._failures

    def failed(self, exc: BaseException) -> float:
        """Record a failure; return the seconds to wait before trying again."""
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            if self._since is None:
                self._since = now
                self._delay = self.first
            elif now >= self._next_log:
                self._delay = min(self._delay * 2, self.longest)
            first = self._failures == 1
            delay = self._delay
            log = now >= self._next_log
            if log:
                self._next_log = now + delay
        if log:
            # The traceback once per outage (it may be a bug rather than an outage), then
            # one line per step.
            self.logger.warning(
                "%s is unavailable (%s); attempt %d, retrying in %g s",
                self.what,
                describe_error(exc),
                self._failures,
                delay,
                exc_info=exc if first and self.traceback else None,
            )
        return delay

    def succeeded(self) -> None:
        """Record a success; logs once when it ends an outage."""
        if self._since is None:
            return
        with self._lock:
            since, failures = self._since, self._failures
            self._since = None
            self._failures = 0
            self._delay = 0.0
            self._next_log = 0.0
        if since is not None:
            self.logger.warning(
                "%s is back after %.1f s (%d failed attempts)",
                self.what,
                time.monotonic() - since,
                failures,
            )


def wait_until(
    check: Callable[[], object],
    outage: Outage,
    *,
    stop: threading.Event | None = None,
    timeout: float | None = None,
) -> None:
    """Call ``check`` until it returns without raising; re-raise its error past ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            check()
        except Exception as exc:
            delay = outage.failed(exc)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            if stop is not None:
                if stop.wait(delay):
                    raise
            else:
                time.sleep(delay)
            continue
        outage.succeeded()
        return


async def await_until(
    check: Callable[[], object], outage: Outage, *, timeout: float | None = None
) -> None:
    """:func:`wait_until` for an event loop: ``check`` runs in a thread, the waits are sleeps."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            await asyncio.to_thread(check)
        except Exception as exc:
            delay = outage.failed(exc)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            continue
        outage.succeeded()
        return
