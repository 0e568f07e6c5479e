"""Query parameters of the time-series endpoints: times and steps as people write them."""

from __future__ import annotations

import datetime as dt
import re
import time

from modelyard.kit.errors import BadRequest

__all__ = ["parse_step", "parse_time"]

_RELATIVE = re.compile(r"^-(\d{1,9}(?:\.\d{1,3})?)(s|m|h|d)$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ISO = re.compile(
    r"^(?P<y>(19|20|21)\d{2})-(?P<mo>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])"
    r"([T ](?P<h>[01]\d|2[0-3]):(?P<mi>[0-5]\d)(:(?P<s>[0-5]\d(\.\d{1,6})?))?)?"
    r"(?P<tz>Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)
_STEP = re.compile(r"^(\d{1,6}(?:\.\d{1,3})?)(ms|s|m|h|d)?$")

TIME_PATTERN = (
    r"^(now|-\d{1,9}(\.\d{1,3})?[smhd]|\d{1,11}(\.\d{1,9})?|"
    r"(19|20|21)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)$"
)
"""What ``from`` and ``to`` accept: ``now``, ``-15m``, unix seconds or an ISO 8601 time."""
STEP_PATTERN = r"^(raw|\d{1,6}(\.\d{1,3})?(ms|s|m|h|d)?)$"
MAX_BUCKETS = 100_000


def parse_time(value: str | None, default_ms: int, name: str) -> int:
    """``now``, relative ``-15m`` / ``-2h`` / ``-30s``, unix seconds, or ISO 8601 (UTC unless
    an offset is given; a day past the end of its month rolls over into the next)."""
    if value is None or value == "":
        return default_ms
    now = time.time()
    if value == "now":
        return int(now * 1000)
    match = _RELATIVE.match(value)
    if match:
        return int((now - float(match[1]) * _UNITS[match[2]]) * 1000)
    if re.fullmatch(r"\d{1,11}(\.\d{1,9})?", value):
        return int(float(value) * 1000)
    iso = _ISO.match(value)
    if iso is None:
        raise BadRequest(
            f"`{name}` must be `now`, relative like `-15m`, unix seconds or an ISO 8601 time; "
            f"got {value!r}."
        )
    offset = dt.timedelta(0)
    tz = iso["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    moment = (
        dt.datetime(int(iso["y"]), int(iso["mo"]), 1, tzinfo=dt.UTC)
        + dt.timedelta(days=int(iso["d"]) - 1)
        + dt.timedelta(
            hours=int(iso["h"] or 0), minutes=int(iso["mi"] or 0), seconds=float(iso["s"] or 0)
        )
        - offset
    )
    return int(moment.timestamp() * 1000)


def parse_step(value: str | None, from_ms: int, to_ms: int, points: int | None = None) -> int:
    """``raw``/``0``, seconds, or ``500ms``, ``10s``, ``1m``, ``1h``, ``1d``; raised so that the
    range has at most 100,000 buckets (the response says which step was used).

    ``points``, a budget of buckets for the range (a chart's width): the step is raised to fit
    it, to whole seconds, and to whole minutes past one (so old ranges read the rollups). Each
    bucket keeps its min and max, so a spike narrower than a bucket still shows.
    """
    span = max(0, to_ms - from_ms)
    if value is None or value == "":
        step = 0 if span <= 3_600_000 else 60_000
    elif value == "raw":
        step = 0
    else:
        match = _STEP.match(value)
        if match is None:
            raise BadRequest(
                f"`step` must be `raw`, seconds, or like `10s`, `1m`, `1h`; got {value!r}."
            )
        unit = match[2] or "s"
        step = int(float(match[1]) * (0.001 if unit == "ms" else _UNITS[unit]) * 1000)
    if points is not None and span > 0:
        budget = -(-span // max(1, points))
        if budget > step:
            unit = 60_000 if budget > 60_000 else 1000
            step = -(-budget // unit) * unit
    if step and span / step > MAX_BUCKETS:
        step = -(-span // MAX_BUCKETS)
    return step
