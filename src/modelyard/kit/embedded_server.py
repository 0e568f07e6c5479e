"""One process serving an ASGI app factory with granian's embedded server on uvloop, stopped
by SIGINT or SIGTERM (the app's lifespan shutdown runs before the process exits).

``modelyard serve`` (one worker) and ``modelyard serve-model`` run their apps this way rather
than under granian's launcher, which would keep a supervisor process beside its worker.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

from granian.constants import Interfaces
from granian.server.embed import Server

# granian's command line defaults (the embedded server's own backlog is 128): with one
# worker the backlog is also the number of requests in flight before new ones wait.
BACKLOG = 1024


def build_server(factory: Callable[[], Any], *, host: str, port: int, access_log: bool) -> Server:
    return Server(
        factory,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        backlog=BACKLOG,
        log_access=access_log,
    )


async def serve(server: Server) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    await server.serve()
