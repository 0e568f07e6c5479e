"""``create_app()``: the lifespan wires the database, artifact store, cache, job workers,
live loops, the alert evaluator and the delivery sender, then mounts the API and the web UI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import sqlalchemy as sa
from fastapi import FastAPI

import modelyard.tasks  # noqa: F401  (registers every job kind)
from modelyard import __version__
from modelyard.alerts.evaluator import Evaluator
from modelyard.api import router as api_router
from modelyard.auth.deps import check_credentials
from modelyard.cache import open_cache
from modelyard.config import Settings, get_settings
from modelyard.datasets.store import DatasetStore
from modelyard.deployments import live
from modelyard.jobs import QueueGauges
from modelyard.jobs import runtime as jobs_runtime
from modelyard.kit import health
from modelyard.kit.backoff import Outage, await_until
from modelyard.kit.body_limit import BodyLimitMiddleware
from modelyard.kit.compression import CompressionMiddleware
from modelyard.kit.db import Database
from modelyard.kit.errors import install_handlers
from modelyard.kit.openapi import document_problems, operation_id
from modelyard.kit.streams import StreamLimiter
from modelyard.registry import CachedReads
from modelyard.registry.artifacts import ArtifactStore
from modelyard.serving import PredictionLog
from modelyard.storage import check_at_start, open_store
from modelyard.telemetry import QueryProfiler, Sampler
from modelyard.telemetry import install as install_telemetry
from modelyard.web import mount as mount_web
from modelyard.web.api_docs import router as api_docs_router
from modelyard.webhooks.delivery import Sender

logger = logging.getLogger("modelyard.app")


def database_check(db: Database) -> health.Check:
    def check() -> None:
        with db.engine.connect() as conn:
            conn.execute(sa.text("select 1"))

    return check


def redis_check(url: str) -> health.Check:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def check() -> None:
        client.ping()

    return check


def readiness_checks(settings: Settings, db: Database) -> health.Readiness:
    """What this process needs to do its work: the database, and Redis when configured (the
    job queue, event fan-out and shared cache)."""
    readiness = health.Readiness()
    readiness.add("database", database_check(db))
    if settings.redis_url:
        readiness.add("redis", redis_check(settings.redis_url))
    return readiness


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.home.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url, echo=settings.echo_sql)
        app.state.settings = settings
        app.state.db = db
        # Nothing here works without the database: wait for it (one log line per attempt,
        # backing off to 30 s) rather than exit. Redis may be away: its users retry.
        await await_until(database_check(db), Outage("the database", logger))
        app.state.readiness = readiness_checks(settings, db)
        app.state.streams = StreamLimiter(
            settings.server.max_streams, settings.server.max_streams_per_user
        )
        # The store may be away too (requests that need it answer 503 meanwhile); settings
        # that cannot work (refused credentials, no bucket) stop the start here.
        app.state.store = open_store(settings)
        await anyio.to_thread.run_sync(check_at_start, app.state.store)
        app.state.readiness.add("store", app.state.store.check)
        app.state.artifacts = ArtifactStore.of(app.state.store, settings)
        app.state.datasets = DatasetStore.of(app.state.store, settings)
        app.state.prediction_log = PredictionLog(db, app.state.datasets, settings.serving)
        if settings.profile_queries:
            app.state.query_profiler = QueryProfiler()
            app.state.query_profiler.attach(db.engine)
        sampler = Sampler(settings.home)
        sampler.start()
        app.state.metrics_refresh = [QueueGauges(db).refresh]
        app.state.cache = await open_cache(settings).start()
        app.state.jobs = await jobs_runtime.start_embedded(
            settings, db, store=app.state.store, cache=app.state.cache
        )
        app.state.live = live.start_live(settings, db, app.state.cache)
        app.state.metric_store = app.state.live.store
        app.state.alerts = Evaluator(db, settings).start() if settings.alerts.enabled else None
        app.state.deliveries = (
            Sender(db, settings.webhooks).start() if settings.webhooks.enabled else None
        )
        try:
            yield
        finally:
            if app.state.deliveries is not None:
                app.state.deliveries.stop()
            if app.state.alerts is not None:
                app.state.alerts.stop()
            live.stop_live(app.state.live)
            await anyio.to_thread.run_sync(app.state.prediction_log.close)
            await jobs_runtime.stop_embedded(app.state.jobs)
            await app.state.cache.close()
            sampler.stop()
            db.dispose()

    app = FastAPI(
        title="modelyard",
        version=__version__,
        summary="Model registry, evaluation jobs, live deployments and RocksDB capacity models.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served from the wheel's own files by web.api_docs
        redoc_url=None,
    )

    # First among the routes: probes are matched before the API's many routes.
    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, str]:
        """Report that the server is up."""
        return {"status": "ok", "version": __version__}

    app.include_router(health.router)
    install_handlers(app)
    document_problems(app)
    # Inside the request metrics (added after it, so it wraps this): cached reads are counted.
    app.add_middleware(CachedReads)
    install_telemetry(app)
    # Outermost: compresses pages, API bodies and errors alike (never event streams).
    app.add_middleware(CompressionMiddleware)
    # Counts request bodies before anything reads them (it only wraps `receive`).
    app.add_middleware(BodyLimitMiddleware, authenticate=check_credentials)
    app.include_router(api_router)
    app.include_router(api_docs_router)
    mount_web(app)

    return app
