"""The shared /proc readers, on this test process, on a child that exits, and on a stat file."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from modelyard.targets import procfs


def test_proc_stat_parses_cores_and_fields(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  10 1 20 300 4 0 2 7 0 0\n"
        "cpu0 5 0 10 150 2 0 1 3 0 0\n"
        "cpu1 5 1 10 150 2 0 1 4 0 0\n"
        "intr 12345\n"
    )
    cores, total = procfs.read_proc_stat(str(stat))
    assert cores == 2
    assert total == {
        "user": 10,
        "nice": 1,
        "system": 20,
        "idle": 300,
        "iowait": 4,
        "irq": 0,
        "softirq": 2,
        "steal": 7,
    }


def test_readers_see_this_process_and_its_threads() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    worker.start()
    try:
        threads = procfs.thread_ticks(os.getpid())
        assert os.getpid() in threads  # the main thread's tid is the pid
        assert worker.native_id in threads
        assert all(ticks >= 0 and name for name, ticks in threads.values())
        sched = procfs.thread_schedstat(os.getpid())
        assert worker.native_id in sched
    finally:
        stop.set()
        worker.join()
    ticks = procfs.process_ticks(os.getpid())
    assert ticks is not None and ticks >= 0
    rss = procfs.rss_bytes(os.getpid())
    assert rss is not None and rss > 1_000_000


def test_readers_answer_empty_for_an_exited_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert procfs.process_ticks(child.pid) is None
    assert procfs.thread_ticks(child.pid) == {}
    assert procfs.thread_schedstat(child.pid) == {}
    assert procfs.rss_bytes(child.pid) is None
    assert procfs.io_bytes(child.pid) is None


def test_thread_name_with_parenthesis_and_space_is_kept(tmp_path: Path) -> None:
    # /proc/<pid>/stat puts the command in parentheses, and it may itself hold ') '.
    assert procfs._ticks_of_stat("42 (odd) name) S 1 2 3 4 5 6 7 8 9 10 11 12 13") == 11 + 12
