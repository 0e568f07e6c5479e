"""``push``: metrics sent in JSON batches to ``POST /api/targets/{id}/metrics``.

The endpoint writes the points straight into the time-series store; this adapter reads back
what arrived since its last call, sample by sample, so deployments on a push target are
evaluated exactly like those on a scraped one. A target that has not pushed anything for
``silence_seconds`` is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from modelyard.targets.base import Interval, TargetDown, judge_saturation

__all__ = ["PushTarget"]

Fetch = Callable[[int, int], list[tuple[int, dict[str, float]]]]


class PushTarget:
    kind = "push"

    def __init__(
        self,
        fetch: Fetch,
        configuration: dict[str, Any],
        *,
        interval_seconds: float,
        silence_seconds: float | None = None,
        since_ms: int | None = None,
    ) -> None:
        self.fetch = fetch
        self.configuration = configuration
        self.interval_seconds = interval_seconds
        self.silence_seconds = silence_seconds or max(10.0, 5 * interval_seconds)
        self.last_ts_ms = since_ms if since_ms is not None else int(time.time() * 1000)
        self.last_arrival = time.monotonic()

    def start(self) -> None:
        self.last_arrival = time.monotonic()

    def collect(self) -> list[Interval]:
        now_ms = int(time.time() * 1000) + 60_000  # accept clocks a little ahead of ours
        samples = self.fetch(self.last_ts_ms, now_ms)
        if not samples:
            silent = time.monotonic() - self.last_arrival
            if silent > self.silence_seconds:
                raise TargetDown(f"no metrics pushed for more than {self.silence_seconds:.0f} s")
            return []
        self.last_arrival = time.monotonic()
        intervals: list[Interval] = []
        previous = self.last_ts_ms
        for ts, metrics in samples:
            seconds = (
                (ts - previous) / 1000 if 0 < ts - previous < 3_600_000 else self.interval_seconds
            )
            saturated, reasons = judge_saturation(metrics)
            intervals.append(
                Interval(
                    ts_ms=ts,
                    seconds=seconds,
                    metrics=metrics,
                    configuration=dict(self.configuration),
                    evidence={},
                    saturated=saturated,
                    saturation_reasons=reasons,
                )
            )
            previous = ts
        self.last_ts_ms = samples[-1][0]
        return intervals

    def stop(self) -> None:
        return None
