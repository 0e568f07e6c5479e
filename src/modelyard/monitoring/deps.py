"""What the time-series endpoints of targets and deployments share: the app's metric store,
a nudge to the live supervisor after a change, and the ``from``/``to``/``step`` window.

The window is a dependency so that both endpoints document, validate and default the three
query parameters the same way (``from`` 15 minutes before ``to``, ``to`` now, ``step`` chosen
to keep the answer small).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from modelyard.monitoring.query import STEP_PATTERN, TIME_PATTERN, parse_step, parse_time
from modelyard.monitoring.store import MetricStore

__all__ = ["MetricWindow", "TimeWindow", "metric_store", "poke_live", "time_window"]

DEFAULT_SPAN_MS = 15 * 60_000
MAX_POINTS = 10_000
Column = Literal["avg", "min", "max", "count"]
COLUMNS: tuple[str, ...] = ("avg", "min", "max", "count")


def metric_store(request: Request) -> MetricStore:
    store: MetricStore = request.app.state.metric_store
    return store


def poke_live(request: Request) -> None:
    """Have the live supervisor look at targets and deployments now, not at its next tick."""
    live = getattr(request.app.state, "live", None)
    if live is not None and live.supervisor is not None:
        live.supervisor.poke()


@dataclass(frozen=True)
class TimeWindow:
    from_ms: int
    to_ms: int
    step_ms: int
    fields: tuple[str, ...] = COLUMNS
    digits: int | None = None


def time_window(
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=64,
            pattern=TIME_PATTERN,
            description="Default: 15 minutes ago.",
        ),
    ] = None,
    to: Annotated[
        str | None, Query(max_length=64, pattern=TIME_PATTERN, description="Default: now.")
    ] = None,
    step: Annotated[
        str | None, Query(max_length=16, pattern=STEP_PATTERN, description="`raw`, `10s`, `1m`...")
    ] = None,
    points: Annotated[
        int | None,
        Query(
            ge=2,
            le=MAX_POINTS,
            description="At most this many buckets over the range (a chart's width in pixels): "
            "the step grows to fit; each bucket keeps its min and max.",
        ),
    ] = None,
    field: Annotated[
        list[Column],
        Query(description="Only these columns of each bucket (repeat); default all four."),
    ] = [],  # noqa: B006
    digits: Annotated[
        int | None,
        Query(
            ge=2,
            le=17,
            description="Round values to this many significant digits (a chart needs 4).",
        ),
    ] = None,
) -> TimeWindow:
    to_ms = parse_time(to, int(time.time() * 1000), "to")
    from_ms = parse_time(from_, to_ms - DEFAULT_SPAN_MS, "from")
    fields = tuple(c for c in COLUMNS if c in field) if field else COLUMNS
    return TimeWindow(from_ms, to_ms, parse_step(step, from_ms, to_ms, points), fields, digits)


MetricWindow = Annotated[TimeWindow, Depends(time_window)]
