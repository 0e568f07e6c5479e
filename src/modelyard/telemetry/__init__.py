"""modelyard watching itself: Prometheus metrics for requests, the process and the host.

``install(app, settings)`` adds a pure-ASGI middleware that times every request by route
template (not raw path, so label cardinality stays bounded) and mounts ``GET /metrics``.
Process and host figures (CPU including steal, RSS, disk space of the data directory) are
sampled by a daemon thread into gauges, which also works in prometheus_client's
multiprocess mode where custom collectors are not allowed.
"""

from modelyard.telemetry._metrics import REQUEST_SECONDS
from modelyard.telemetry._middleware import PrometheusMiddleware
from modelyard.telemetry._queries import QueryProfiler
from modelyard.telemetry._setup import Sampler, install, metrics_router
from modelyard.telemetry._worker import WorkerEndpoints

__all__ = [
    "REQUEST_SECONDS",
    "PrometheusMiddleware",
    "QueryProfiler",
    "Sampler",
    "WorkerEndpoints",
    "install",
    "metrics_router",
]
