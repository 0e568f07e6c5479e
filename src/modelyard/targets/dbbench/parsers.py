"""Parsers for what db_bench and RocksDB write: stderr interval lines, the `--report_file` CSV,
`** Compaction Stats **` tables, DB Stats and stall lines (7.x and 9.x formats), statistics
tickers and histograms, and the LOG's `EVENT_LOG_v1` JSON events.

All functions take text and return plain dataclasses; none of them touches a file or a process.
Units are kept as RocksDB prints them except where a field name says otherwise (`_bytes`, `_sec`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CompactionStats",
    "DbStats",
    "Histogram",
    "IntervalLine",
    "LevelStats",
    "ReportRow",
    "StallWarning",
    "Statistics",
    "estimate_pending_compaction_bytes",
    "parse_compaction_stats",
    "parse_db_stats",
    "parse_event_log",
    "parse_interval_lines",
    "parse_report_csv",
    "parse_stall_warnings",
    "parse_statistics",
    "parse_summary_line",
]

_SIZE_UNITS = {"B": 1.0, "KB": 1024.0, "MB": 1024.0**2, "GB": 1024.0**3, "TB": 1024.0**4}
_COUNT_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9}


# -- stderr interval lines ---------------------------------------------------------------------
@dataclass(frozen=True)
class IntervalLine:
    """`... thread 0: (219000,219000) ops and (43552.9,43552.9) ops/second in (5.0,5.0) seconds`."""

    thread: int
    interval_ops: int
    total_ops: int
    interval_ops_per_sec: float
    total_ops_per_sec: float
    interval_sec: float
    total_sec: float


_INTERVAL_RE = re.compile(
    r"thread (\d+): \((\d+),(\d+)\) ops and \(([\d.]+),([\d.]+)\) ops/second "
    r"in \(([\d.]+),([\d.]+)\) seconds"
)


def parse_interval_lines(text: str) -> list[IntervalLine]:
    return [
        IntervalLine(
            int(m[1]), int(m[2]), int(m[3]), float(m[4]), float(m[5]), float(m[6]), float(m[7])
        )
        for m in _INTERVAL_RE.finditer(text)
    ]


_SUMMARY_RE = re.compile(
    r"^(\w+)\s*:\s*([\d.]+) micros/op (\d+) ops/sec\s*([\d.]+) seconds (\d+) operations",
    re.MULTILINE,
)


def parse_summary_line(text: str) -> dict[str, float] | None:
    """`fillrandom : 8.387 micros/op 119200 ops/sec 12.013 seconds 1431999 operations; ...`."""
    m = _SUMMARY_RE.search(text)
    if m is None:
        return None
    return {
        "micros_per_op": float(m[2]),
        "ops_per_sec": float(m[3]),
        "seconds": float(m[4]),
        "operations": float(m[5]),
    }


# -- report CSV ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportRow:
    """One `--report_file` row. `ops` is a COUNT over the interval, not a rate (ReporterAgent)."""

    secs_elapsed: float
    ops: int


def parse_report_csv(text: str) -> list[ReportRow]:
    rows: list[ReportRow] = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return rows
    header = [h.strip() for h in lines[0].split(",")]
    if "secs_elapsed" not in header or "interval_qps" not in header:
        raise ValueError(f"not a db_bench report file header: {lines[0]!r}")
    i_sec, i_ops = header.index("secs_elapsed"), header.index("interval_qps")
    for line in lines[1:]:
        cells = line.split(",")
        rows.append(ReportRow(float(cells[i_sec]), int(float(cells[i_ops]))))
    return rows


def report_rates(rows: list[ReportRow]) -> list[tuple[float, float]]:
    """(end second, ops/s) per interval, dividing each count by its interval length."""
    out: list[tuple[float, float]] = []
    previous = 0.0
    for row in rows:
        width = row.secs_elapsed - previous
        if width > 0:
            out.append((row.secs_elapsed, row.ops / width))
        previous = row.secs_elapsed
    return out


# -- compaction stats ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LevelStats:
    name: str
    files: int
    files_compacting: int
    size_bytes: float
    score: float
    read_gb: float
    rn_gb: float
    rnp1_gb: float
    write_gb: float
    wnew_gb: float
    moved_gb: float
    w_amp: float
    comp_sec: float
    comp_merge_cpu_sec: float
    comp_count: int
    key_in: float
    key_drop: float


@dataclass(frozen=True)
class CompactionStats:
    """One `** Compaction Stats [cf] **` level table (the priority table is skipped)."""

    column_family: str
    levels: dict[str, LevelStats]
    uptime_sec: float | None = None

    def level_sizes(self) -> dict[int, float]:
        """Bytes per numbered level (L0 -> 0)."""
        return {
            int(name[1:]): s.size_bytes
            for name, s in self.levels.items()
            if name.startswith("L") and name[1:].isdigit()
        }

    def level_files(self) -> dict[int, int]:
        return {
            int(name[1:]): s.files
            for name, s in self.levels.items()
            if name.startswith("L") and name[1:].isdigit()
        }


def _count(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([KMGB]?)", text)
    if m is None:
        raise ValueError(f"bad count {text!r}")
    return float(m[1]) * _COUNT_SUFFIX[m[2]]


_LEVEL_ROW_RE = re.compile(
    r"^\s*(L\d+|Sum|Int)\s+(\d+)/(\d+)\s+([\d.]+)\s+(B|KB|MB|GB|TB)\s+(.*)$", re.MULTILINE
)
_UPTIME_RE = re.compile(r"Uptime\(secs\): ([\d.]+) total")


def parse_compaction_stats(text: str) -> list[CompactionStats]:
    """Every level table in `text`, in order (stats dumps repeat them)."""
    tables: list[CompactionStats] = []
    headers = list(re.finditer(r"\*\* Compaction Stats \[([^\]]+)\] \*\*\n(\w+)", text))
    for index, header in enumerate(headers):
        if header[2] != "Level":
            continue
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body = text[header.end() : end]
        levels: dict[str, LevelStats] = {}
        for m in _LEVEL_ROW_RE.finditer(body):
            rest = m[6].split()
            if len(rest) < 17:
                continue
            n = [float(x) for x in rest[:14]]
            levels[m[1]] = LevelStats(
                name=m[1],
                files=int(m[2]),
                files_compacting=int(m[3]),
                size_bytes=float(m[4]) * _SIZE_UNITS[m[5]],
                score=n[0],
                read_gb=n[1],
                rn_gb=n[2],
                rnp1_gb=n[3],
                write_gb=n[4],
                wnew_gb=n[5],
                moved_gb=n[6],
                w_amp=n[7],
                comp_sec=n[10],
                comp_merge_cpu_sec=n[11],
                comp_count=int(n[12]),
                key_in=_count(rest[14]),
                key_drop=_count(rest[15]),
            )
        after = text[end : end + 4000]
        uptime = _UPTIME_RE.search(after)
        tables.append(
            CompactionStats(header[1], levels, float(uptime[1]) if uptime is not None else None)
        )
    return tables


def estimate_pending_compaction_bytes(
    stats: CompactionStats,
    *,
    level0_trigger: int,
    base_bytes: float,
    multiplier: float,
    include_level0: bool = True,
) -> float:
    """RocksDB's EstimateCompactionBytesNeeded (static level targets) from one stats table.

    L0 counts its bytes and L1's once it reaches the trigger; each level above target passes its
    excess down, which costs the excess times (next/this size ratio + 1) to merge. With
    `include_level0=False` only the debt below L0 is counted (L0 toggles ~L1's size in and out
    of the estimate every time it crosses the trigger, which hides any trend).
    """
    sizes = stats.level_sizes()
    if not sizes:
        return 0.0
    pending = 0.0
    carried = 0.0
    if include_level0 and stats.level_files().get(0, 0) >= level0_trigger:
        pending += sizes.get(0, 0.0) + sizes.get(1, 0.0)
        carried = sizes.get(0, 0.0)
    deepest = max(sizes)
    for level in range(1, deepest + 1):
        size = sizes.get(level, 0.0) + carried
        target = base_bytes * multiplier ** (level - 1)
        carried = 0.0
        if size > target and level < deepest + 1:
            excess = size - target
            carried = excess
            next_size = sizes.get(level + 1, 0.0)
            ratio = (next_size / size) if size > 0 else 0.0
            pending += excess * (ratio + 1.0)
    return pending


# -- DB Stats and stalls ---------------------------------------------------------------------
@dataclass
class DbStats:
    """`** DB Stats **` plus the stall counters printed with the compaction stats."""

    uptime_sec: float | None = None
    cumulative_writes: float | None = None
    cumulative_ingest_gb: float | None = None
    cumulative_compaction_write_gb: float | None = None
    cumulative_compaction_read_gb: float | None = None
    cumulative_stall_sec: float | None = None
    cumulative_stall_percent: float | None = None
    stall_counts: dict[str, int] = field(default_factory=dict)
    stall_format: str | None = None  # "7.x" or "9.x"


_CUM_WRITES_RE = re.compile(r"Cumulative writes: ([\d.]+[KMG]?) writes.*?ingest: ([\d.]+) GB")
_CUM_COMP_RE = re.compile(
    r"Cumulative compaction: ([\d.]+) GB write, [\d.]+ MB/s write, ([\d.]+) GB read"
)
_CUM_STALL_RE = re.compile(r"Cumulative stall: (\d+):(\d+):([\d.]+) H:M:S, ([\d.]+) percent")
_STALLS_7_RE = re.compile(r"^Stalls\(count\): (.*)$", re.MULTILINE)
_STALLS_9_RE = re.compile(r"^Write Stall \(count\): (.*)$", re.MULTILINE)


def _stall_counts(body: str, fmt: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for part in body.split(","):
        part = part.strip()
        if not part:
            continue
        if fmt == "7.x":
            m = re.fullmatch(r"(\d+) (.+)", part)
            if m is not None:
                counts[m[2].strip()] = int(m[1])
            else:
                m2 = re.fullmatch(r"interval (\d+) total count", part)
                if m2 is not None:
                    counts["interval_total"] = int(m2[1])
        else:
            m = re.fullmatch(r"(.+?): (\d+)", part)
            if m is not None:
                counts[m[1].strip()] = int(m[2])
    return counts


def parse_db_stats(text: str) -> DbStats:
    """The LAST values of each DB Stats field in `text` (stats dumps are cumulative)."""
    stats = DbStats()
    if uptimes := _UPTIME_RE.findall(text):
        stats.uptime_sec = float(uptimes[-1])
    if writes := _CUM_WRITES_RE.findall(text):
        stats.cumulative_writes = _count(writes[-1][0])
        stats.cumulative_ingest_gb = float(writes[-1][1])
    if comps := _CUM_COMP_RE.findall(text):
        stats.cumulative_compaction_write_gb = float(comps[-1][0])
        stats.cumulative_compaction_read_gb = float(comps[-1][1])
    if stalls := _CUM_STALL_RE.findall(text):
        h, m, s, pct = stalls[-1]
        stats.cumulative_stall_sec = int(h) * 3600 + int(m) * 60 + float(s)
        stats.cumulative_stall_percent = float(pct)
    # counters are cumulative: merging every line in order leaves the last value of each (9.x
    # prints a per-column-family line and a DB-wide `write-buffer-manager` line)
    if nine := _STALLS_9_RE.findall(text):
        for body in nine:
            stats.stall_counts.update(_stall_counts(body, "9.x"))
        stats.stall_format = "9.x"
    elif seven := _STALLS_7_RE.findall(text):
        for body in seven:
            stats.stall_counts.update(_stall_counts(body, "7.x"))
        stats.stall_format = "7.x"
    return stats


# -- statistics tickers and histograms -------------------------------------------------------
@dataclass(frozen=True)
class Histogram:
    p50: float
    p95: float
    p99: float
    p100: float
    count: int
    sum: float


@dataclass
class Statistics:
    tickers: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)


_TICKER_RE = re.compile(r"^(rocksdb\.[\w.\-]+) COUNT : (\d+)\s*$", re.MULTILINE)
_HIST_RE = re.compile(
    r"^(rocksdb\.[\w.\-]+) P50 : ([\d.e+\-]+) P95 : ([\d.e+\-]+) P99 : ([\d.e+\-]+) "
    r"P100 : ([\d.e+\-]+) COUNT : (\d+) SUM : (\d+)",
    re.MULTILINE,
)


def parse_statistics(text: str) -> Statistics:
    """`--statistics=1` output (db_bench stdout or the LOG's `STATISTICS:` dump); last wins."""
    stats = Statistics()
    for m in _TICKER_RE.finditer(text):
        stats.tickers[m[1]] = int(m[2])
    for m in _HIST_RE.finditer(text):
        stats.histograms[m[1]] = Histogram(
            float(m[2]), float(m[3]), float(m[4]), float(m[5]), int(m[6]), float(m[7])
        )
    return stats


# -- LOG events --------------------------------------------------------------------------------
def parse_event_log(text: str) -> list[dict[str, Any]]:
    """Every `EVENT_LOG_v1 {...}` JSON object in a RocksDB LOG, in file order."""
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        index = line.find("EVENT_LOG_v1 ")
        if index < 0:
            continue
        try:
            event = json.loads(line[index + len("EVENT_LOG_v1 ") :])
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass(frozen=True)
class StallWarning:
    """`Stalling writes because we have 20 level-0 files rate 8388608` and `Stopping writes ...`."""

    timestamp: str
    kind: str  # "stalling" or "stopping"
    reason: str
    rate: int | None


_STALL_WARN_RE = re.compile(
    r"^(\S+) .*?(Stalling|Stopping) writes because (.*?)(?: rate (\d+))?\s*$", re.MULTILINE
)


def parse_stall_warnings(text: str) -> list[StallWarning]:
    return [
        StallWarning(m[1], m[2].lower(), m[3].strip(), int(m[4]) if m[4] else None)
        for m in _STALL_WARN_RE.finditer(text)
    ]
