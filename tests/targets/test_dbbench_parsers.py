"""Parsers on outputs captured from the installed db_bench (RocksDB 7.8.3) and rocksdict (9.8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.targets.dbbench import parsers

DATA = Path(__file__).parents[1] / "data" / "dbbench"


@pytest.fixture(scope="module")
def stderr() -> str:
    return (DATA / "fillrandom_stderr.txt").read_text()


def test_interval_lines(stderr: str) -> None:
    lines = parsers.parse_interval_lines(stderr)
    assert len(lines) == 2
    first, second = lines
    assert (first.thread, first.interval_ops, first.total_ops) == (0, 568000, 568000)
    assert first.interval_ops_per_sec == pytest.approx(141993.6)
    assert second.total_ops == 1077000
    assert second.total_sec == pytest.approx(8.007258)


def test_summary_line() -> None:
    summary = parsers.parse_summary_line((DATA / "fillrandom_stdout.txt").read_text())
    assert summary == {
        "micros_per_op": 8.387,
        "ops_per_sec": 119200.0,
        "seconds": 12.013,
        "operations": 1431999.0,
    }


def test_report_csv_is_counts_per_interval() -> None:
    rows = parsers.parse_report_csv((DATA / "fillrandom_report.csv").read_text())
    assert len(rows) == 12
    assert rows[0] == parsers.ReportRow(1.0, 115280)
    # the counts add up to the operations db_bench reports (the last partial second aside)
    assert sum(r.ops for r in rows) == pytest.approx(1431999, rel=0.001)
    rates = parsers.report_rates(rows)
    assert rates[1] == (2.0, 155693.0)


def test_report_csv_rejects_other_files() -> None:
    with pytest.raises(ValueError):
        parsers.parse_report_csv("a,b\n1,2\n")


def test_compaction_stats(stderr: str) -> None:
    tables = parsers.parse_compaction_stats(stderr)
    assert len(tables) == 2  # two dumps; the priority tables are skipped
    last = tables[-1]
    assert last.column_family == "default"
    assert last.uptime_sec == 8.0
    l1 = last.levels["L1"]
    assert (l1.files, l1.files_compacting) == (5, 5)
    assert l1.comp_count == 9
    assert l1.key_in == 3376000
    assert l1.comp_merge_cpu_sec == pytest.approx(4.93)
    assert set(last.levels) >= {"L0", "L1", "Sum", "Int"}
    assert last.level_files()[1] == 5


def test_pending_compaction_estimate(stderr: str) -> None:
    first = parsers.parse_compaction_stats(stderr)[0]
    sizes = first.level_sizes()
    # 10 L0 files >= trigger 4: L0 and L1 bytes count; L1 (134 MB) is below its 256 MiB target
    assert parsers.estimate_pending_compaction_bytes(
        first, level0_trigger=4, base_bytes=256 * 2**20, multiplier=10
    ) == pytest.approx(sizes[0] + sizes[1])
    assert (
        parsers.estimate_pending_compaction_bytes(
            first, level0_trigger=4, base_bytes=256 * 2**20, multiplier=10, include_level0=False
        )
        == 0.0
    )
    # a 64 MiB base leaves (134.42 - 64) MiB of L1 excess to merge into an empty L2
    excess = sizes[1] - 64 * 2**20
    assert parsers.estimate_pending_compaction_bytes(
        first, level0_trigger=4, base_bytes=64 * 2**20, multiplier=10, include_level0=False
    ) == pytest.approx(excess)


def test_db_stats_7x(stderr: str) -> None:
    stats = parsers.parse_db_stats(stderr)
    assert stats.stall_format == "7.x"
    assert stats.uptime_sec == 8.0
    assert stats.cumulative_writes == 1077000
    assert stats.cumulative_ingest_gb == 0.43
    assert stats.cumulative_stall_sec == pytest.approx(0.547)
    assert stats.cumulative_stall_percent == 6.8
    assert stats.cumulative_compaction_write_gb == 1.69
    assert stats.stall_counts["level0_slowdown"] == 2
    assert stats.stall_counts["memtable_compaction"] == 1
    assert stats.stall_counts["stop for pending_compaction_bytes"] == 0


def test_db_stats_9x() -> None:
    stats = parsers.parse_db_stats((DATA / "rocksdict_9x_stats.txt").read_text())
    assert stats.stall_format == "9.x"
    assert stats.stall_counts["total-delays"] == 0
    assert stats.stall_counts["total-stops"] == 0
    assert "cf-l0-file-count-limit-delays-with-ongoing-compaction" in stats.stall_counts
    assert "write-buffer-manager-limit-stops" in stats.stall_counts
    assert stats.cumulative_writes == 20000


def test_db_stats_9x_counts() -> None:
    text = (
        "Write Stall (count): cf-l0-file-count-limit-delays-with-ongoing-compaction: 3, "
        "l0-file-count-limit-delays: 5, total-delays: 8, total-stops: 2\n"
    )
    counts = parsers.parse_db_stats(text).stall_counts
    assert counts == {
        "cf-l0-file-count-limit-delays-with-ongoing-compaction": 3,
        "l0-file-count-limit-delays": 5,
        "total-delays": 8,
        "total-stops": 2,
    }


def test_statistics() -> None:
    stats = parsers.parse_statistics((DATA / "fillrandom_stdout.txt").read_text())
    t = stats.tickers
    assert t["rocksdb.bytes.written"] == 618623568
    assert t["rocksdb.number.keys.written"] == 1431999
    assert t["rocksdb.stall.micros"] == 1197855
    assert t["rocksdb.compact.write.bytes"] == 2040160412
    stall = stats.histograms["rocksdb.db.write.stall"]
    assert (stall.count, stall.sum) == (24888, 1200362)
    assert stall.p99 == pytest.approx(1192.991429)


def test_event_log() -> None:
    events = parsers.parse_event_log((DATA / "fillrandom_LOG.txt").read_text())
    kinds = {e["event"] for e in events}
    assert {"compaction_started", "compaction_finished", "flush_started"} <= kinds
    assert "table_file_creation" in kinds
    finished = [e for e in events if e["event"] == "compaction_finished"]
    assert len(finished) == 11
    first = finished[0]
    assert first["compaction_time_cpu_micros"] == 133170
    assert first["num_input_records"] == 72024
    assert first["lsm_state"] == [1, 1, 0, 0, 0, 0, 0]
    flush = next(e for e in events if e["event"] == "flush_started")
    assert flush["num_entries"] == 18096
    table = next(e for e in events if e["event"] == "table_file_creation")
    assert table["table_properties"]["raw_value_size"] == 7204000


def test_stall_warnings() -> None:
    warnings = parsers.parse_stall_warnings((DATA / "fillrandom_LOG.txt").read_text())
    kinds = {(w.kind, w.rate) for w in warnings}
    assert ("stopping", None) in kinds
    assert ("stalling", 8388608) in kinds
    assert any("20 level-0 files" in w.reason for w in warnings)
