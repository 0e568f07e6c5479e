"""The app in this one process: granian's embedded server on a uvloop event loop.

``modelyard serve`` with one worker execs ``python -m modelyard.embedded`` rather than
granian's launcher, which would run a supervisor process and a worker process (two Pythons,
about 30 MB more at idle). This module imports only the app and granian, not the CLI
(typer, rich, alembic), so that none of those stay resident in the server.

SIGINT and SIGTERM stop the server: it stops accepting, and the app's lifespan shutdown
runs (job workers stop, live loops end, the database is disposed) before the process exits.

Connections: granian handles ``server.concurrency`` requests at once (its backpressure;
``max_streams`` + 1024 by default) and the kernel queues ``server.backlog`` more. Event
streams are capped below that by the app (:mod:`modelyard.kit.streams`), so ordinary
requests always find room; the open-files limit is raised to its hard limit, since each
connection is a file descriptor.
"""

from __future__ import annotations

import argparse

import uvloop

from modelyard.app import create_app
from modelyard.kit.embedded_server import build_server, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modelyard.embedded")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    server = build_server(create_app, host=args.host, port=args.port, access_log=args.access_log)
    uvloop.run(serve(server))


if __name__ == "__main__":
    main()
