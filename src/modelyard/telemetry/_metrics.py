"""The metric objects, defined once per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "modelyard_http_requests_total", "HTTP requests handled.", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "modelyard_http_request_duration_seconds",
    "Time to handle an HTTP request, by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
IN_FLIGHT = Gauge(
    "modelyard_http_requests_in_flight", "Requests being handled.", multiprocess_mode="livesum"
)
PROCESS_CPU = Gauge(
    "modelyard_process_cpu_percent",
    "CPU used by this server process (100 = one core).",
    multiprocess_mode="liveall",
)
PROCESS_RSS = Gauge(
    "modelyard_process_resident_bytes",
    "Resident memory of this server process.",
    multiprocess_mode="liveall",
)
HOST_CPU = Gauge(
    "modelyard_host_cpu_percent",
    "Host CPU busy, by mode (user, system, steal, iowait).",
    ["mode"],
    multiprocess_mode="max",
)
HOST_MEMORY_AVAILABLE = Gauge(
    "modelyard_host_memory_available_bytes",
    "Memory available on the host.",
    multiprocess_mode="max",
)
DATA_DISK_FREE = Gauge(
    "modelyard_data_disk_free_bytes",
    "Free space on the disk that holds MODELYARD_HOME.",
    multiprocess_mode="max",
)
