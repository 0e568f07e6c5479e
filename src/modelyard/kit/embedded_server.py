"""One process serving an ASGI app factory with granian's embedded server on uvloop, stopped
by SIGINT or SIGTERM (the app's lifespan shutdown runs before the process exits).

``modelyard serve`` (one worker) and ``modelyard serve-model`` run their apps this way rather
than under granian's launcher, which would keep a supervisor process beside its worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
from collections.abc import Callable
from typing import Any

from granian.constants import Interfaces
from granian.server.embed import Server

from modelyard.config import get_settings


def build_server(factory: Callable[[], Any], *, host: str, port: int, access_log: bool) -> Server:
    """granian handles ``server.concurrency`` requests at once (its backpressure, streams
    included: ``max_streams`` + 1024 by default, where granian's own default of 1024 let
    that many event streams lock everyone out) and the kernel queues ``server.backlog``."""
    limits = get_settings().server
    return Server(
        factory,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        backlog=limits.backlog,
        backpressure=limits.concurrency,
        log_access=access_log,
    )


def raise_open_files_limit() -> None:
    """Each connection is a file descriptor: take the hard limit, not the soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(server: Server) -> None:
    raise_open_files_limit()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    await server.serve()
