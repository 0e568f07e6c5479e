"""Hit and miss counters of the shared cache, by what was looked up."""

from __future__ import annotations

from prometheus_client import Counter

LOOKUPS = Counter(
    "modelyard_cache_lookups_total",
    "Shared-cache lookups by cache name and result (hit, miss, shared: a miss that waited for "
    "a concurrent computation instead of computing again).",
    ["cache", "result"],
)
ERRORS = Counter(
    "modelyard_cache_errors_total",
    "Cache operations that failed or timed out and were treated as a miss.",
    ["cache", "operation"],
)
