"""``modelyard serve-model REF``: a process that serves predictions of one model alone.

The app answers ``POST /invocations`` (the path ``mlflow models serve`` answers, so its
clients switch by changing the URL) and ``POST /api/models/{ref}/predict`` for references to
the same model, with the same bodies, roles and answers as ``modelyard serve``; ``GET /ping``
and ``GET /health`` for probes. ``REF`` is resolved at every request like everywhere (``sales@
production`` follows the alias), and its version is loaded as the process starts. It shares
the installation's database (for tokens and the registry) and artifact store, and runs no
job workers, live loops or web UI.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import uvloop
from fastapi import FastAPI, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard import __version__
from modelyard.auth.deps import Viewer
from modelyard.config import Settings, get_settings
from modelyard.datasets.store import DatasetStore
from modelyard.kit.db import Database
from modelyard.kit.errors import NotFound, install_handlers
from modelyard.registry.artifacts import ArtifactStore
from modelyard.registry.service import parse_reference
from modelyard.serving.endpoints import answer
from modelyard.serving.prediction_log import PredictionLog
from modelyard.storage import open_store

REF_VARIABLE = "MODELYARD_SERVE_MODEL"


def create_serving_app(settings: Settings | None = None, ref: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    served = ref or os.environ[REF_VARIABLE]
    model_name, _ = parse_reference(served)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url, echo=settings.echo_sql)
        app.state.settings = settings
        app.state.db = db
        app.state.store = open_store(settings)
        app.state.artifacts = ArtifactStore.of(app.state.store, settings)
        app.state.prediction_log = PredictionLog(
            db, DatasetStore.of(app.state.store, settings), settings.serving
        )
        from modelyard.serving import service

        # load the version now: the first request should not pay for it
        resolution = await run_in_threadpool(service.resolve, db, served)
        await run_in_threadpool(service.load, resolution.version, app.state.artifacts)
        try:
            yield
        finally:
            await run_in_threadpool(app.state.prediction_log.close)
            db.dispose()

    app = FastAPI(
        title=f"modelyard serve-model {served}",
        version=__version__,
        summary="Predictions of one model.",
        lifespan=lifespan,
    )
    install_handlers(app)

    @app.get("/ping", tags=["meta"])
    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        """Report that the server is up and which model it serves."""
        return {"status": "ok", "model": served}

    @app.post("/invocations", tags=["predictions"])
    async def invocations(request: Request, _: Viewer) -> Response:
        """Predict with the served model (the body formats of POST /api/models/{ref}/predict)."""
        return await answer(request, served)

    @app.post("/api/models/{ref:path}/predict", tags=["predictions"])
    async def predict(
        request: Request, ref: Annotated[str, Path(max_length=300)], _: Viewer
    ) -> Response:
        """Predict with a version of the served model."""
        if parse_reference(ref)[0] != model_name:
            raise NotFound(f"This server serves '{model_name}' only, not '{ref}'.")
        return await answer(request, ref)

    return app


def main(argv: list[str] | None = None) -> None:
    from modelyard.kit.embedded_server import build_server, serve

    parser = argparse.ArgumentParser(prog="python -m modelyard.serving.app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    server = build_server(
        create_serving_app, host=args.host, port=args.port, access_log=args.access_log
    )
    uvloop.run(serve(server))


if __name__ == "__main__":
    main()
