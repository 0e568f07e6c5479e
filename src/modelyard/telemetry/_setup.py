"""Wiring: the middleware, the sampler thread and ``GET /metrics``."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

import psutil
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.responses import Response

from modelyard.auth.deps import authenticate_request
from modelyard.config import Settings
from modelyard.telemetry._metrics import (
    DATA_DISK_FREE,
    HOST_CPU,
    HOST_MEMORY_AVAILABLE,
    PROCESS_CPU,
    PROCESS_RSS,
)
from modelyard.telemetry._middleware import PrometheusMiddleware

SAMPLE_SECONDS = 5.0

metrics_router = APIRouter(tags=["meta"])


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


@metrics_router.get(
    "/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}}
)
def metrics(request: Request) -> Response:
    """Expose Prometheus metrics (a Bearer token is needed unless metrics are public)."""
    settings: Settings = request.app.state.settings
    if not settings.metrics_public:
        bearer = request.headers.get("authorization", "")
        token = bearer[7:] if bearer.lower().startswith("bearer ") else None
        authenticate_request(request, token, request.cookies.get(settings.auth.cookie_name))
    # gauges read from shared state (the job queue) are refreshed when they are asked for
    for refresh in getattr(request.app.state, "metrics_refresh", ()):
        with contextlib.suppress(Exception):  # a database away must not cost the scrape
            refresh()
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


class Sampler(threading.Thread):
    """Samples process and host figures into gauges until stopped."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(name="modelyard-telemetry", daemon=True)
        self.data_dir = data_dir
        self.stopping = threading.Event()
        self.process = psutil.Process()

    def sample(self) -> None:
        self.process.cpu_percent(None)
        PROCESS_CPU.set(self.process.cpu_percent(None))
        PROCESS_RSS.set(self.process.memory_info().rss)
        times = psutil.cpu_times_percent(None)
        for mode in ("user", "system", "steal", "iowait"):
            HOST_CPU.labels(mode).set(getattr(times, mode, 0.0))
        HOST_MEMORY_AVAILABLE.set(psutil.virtual_memory().available)
        if self.data_dir.exists():
            DATA_DISK_FREE.set(shutil.disk_usage(self.data_dir).free)

    def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(psutil.Error, OSError):
                self.sample()
            self.stopping.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self.stopping.set()


def install(app: FastAPI) -> None:
    app.add_middleware(PrometheusMiddleware)
    app.include_router(metrics_router)
