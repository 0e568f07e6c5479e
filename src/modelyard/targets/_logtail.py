"""Follow a RocksDB LOG: the EVENT_LOG_v1 events appended since the last read, summarised as
the evidence the tuner uses (compactions with their CPU, records and bytes; flushes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.targets.dbbench import parsers

__all__ = ["LogTail", "summarise_events"]


class LogTail:
    """New EVENT_LOG_v1 events appended to the RocksDB LOG since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = ""

    def read(self) -> list[dict[str, Any]]:
        return parsers.parse_event_log(self.read_text())

    def read_text(self) -> str:
        """The complete lines appended since the last read."""
        try:
            with self.path.open("r", errors="replace") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
                self.offset = handle.tell()
        except OSError:
            return ""
        text = self.partial + chunk
        complete, _, self.partial = text.rpartition("\n")
        return complete


def summarise_events(events: list[dict[str, Any]], started: dict[int, float]) -> dict[str, Any]:
    """Compaction and flush evidence of an interval from LOG events.

    ``started`` maps compaction job ids to their input bytes; a job's start and finish can land
    in different intervals, so the caller keeps it between calls.
    """
    compactions: list[dict[str, float | None]] = []
    flushes = 0
    flush_entries = 0
    for event in events:
        kind = event.get("event")
        if kind == "compaction_started":
            started[int(event.get("job", -1))] = float(event.get("input_data_size", 0))
        elif kind == "compaction_finished":
            compactions.append(
                {
                    "cpu_sec": float(event.get("compaction_time_cpu_micros", 0)) / 1e6,
                    "wall_sec": float(event.get("compaction_time_micros", 0)) / 1e6,
                    "records_in": float(event.get("num_input_records", 0)),
                    "records_out": float(event.get("num_output_records", 0)),
                    "bytes_in": started.pop(int(event.get("job", -1)), None),
                    "bytes_out": float(event.get("total_output_size", 0)),
                    "output_level": float(event.get("output_level", 0)),
                }
            )
        elif kind == "flush_started":
            flushes += 1
            flush_entries += int(event.get("num_entries", 0))
    return {"compactions": compactions, "flushes": flushes, "flush_entries": flush_entries}
