"""The evaluation warm-up: ``modelyard worker`` imports scikit-learn in the background while it
waits for jobs (``--no-warm`` does not), and the helper skips what is not installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelyard.evaluations import warmup
from modelyard.kit import migrate

MODELYARD = str(Path(sys.executable).parent / "modelyard")


def test_warm_imports_skips_a_missing_module() -> None:
    seconds = warmup.warm_imports(("json", "modelyard_no_such_module"))
    assert list(seconds) == ["json"] and seconds["json"] >= 0.0


def test_wait_without_a_warm_up_returns_at_once() -> None:
    # Nothing in the test process started a warm-up; the job must not block on one.
    assert warmup.wait(timeout=0) is True


def _has_sklearn(pid: int) -> bool:
    """Whether scikit-learn's compiled modules are mapped into the process."""
    try:
        return "/sklearn/" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_worker_warms_sklearn_while_idle_unless_told_not_to(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'modelyard.db'}"
    migrate.upgrade(url)
    env = {**os.environ, "MODELYARD_HOME": str(home), "MODELYARD_DATABASE_URL": url}
    env.pop("MODELYARD_REDIS_URL", None)
    workers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for mode in ("--warm", "--no-warm"):
            with (tmp_path / f"worker{mode}.log").open("wb") as log:
                workers[mode] = subprocess.Popen(
                    [MODELYARD, "worker", "--concurrency", "1", mode],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        # generous: a cold scikit-learn import took 40 s on a loaded 2-core machine
        deadline = time.monotonic() + 240
        while not _has_sklearn(workers["--warm"].pid):
            assert workers["--warm"].poll() is None, (tmp_path / "worker--warm.log").read_text()
            assert time.monotonic() < deadline, "the warm worker never imported scikit-learn"
            time.sleep(0.5)
        # The cold worker has been up as long (it started at the same moment) and is idle.
        assert workers["--no-warm"].poll() is None
        assert not _has_sklearn(workers["--no-warm"].pid)
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in workers.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
