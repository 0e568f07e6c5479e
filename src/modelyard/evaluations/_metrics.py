"""Prometheus metrics of evaluations run in this process: rows evaluated (a counter, so
``rate()`` gives rows/s across workers) and the last evaluation's own rows/s."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ROWS = Counter(
    "modelyard_evaluation_rows_total", "Rows evaluated by finished evaluations.", ["flavor"]
)
ROWS_PER_SECOND = Gauge(
    "modelyard_evaluation_rows_per_second",
    "Rows per second of the last evaluation that finished, by flavor.",
    ["flavor"],
    multiprocess_mode="mostrecent",
)
