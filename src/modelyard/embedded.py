"""The app in this one process: granian's embedded server on a uvloop event loop.

``modelyard serve`` with one worker execs ``python -m modelyard.embedded`` rather than
granian's launcher, which would run a supervisor process and a worker process (two Pythons,
about 30 MB more at idle). This module imports only the app and granian, not the CLI
(typer, rich, alembic), so that none of those stay resident in the server.

SIGINT and SIGTERM stop the server: it stops accepting, and the app's lifespan shutdown
runs (job workers stop, live loops end, the database is disposed) before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from typing import Any

import uvloop
from granian.constants import Interfaces
from granian.server.embed import Server

from modelyard.app import create_app

# granian's command line defaults (the embedded server's own backlog is 128): with one
# worker the backlog is also the number of requests in flight before new ones wait.
BACKLOG = 1024


def build_server(
    *, host: str, port: int, access_log: bool, factory: Callable[[], Any] = create_app
) -> Server:
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modelyard.embedded")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    server = build_server(host=args.host, port=args.port, access_log=args.access_log)
    uvloop.run(serve(server))


if __name__ == "__main__":
    main()
