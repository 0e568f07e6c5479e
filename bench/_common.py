"""Helpers shared by the benchmarks: servers on free loopback ports, stopped by PID.

- :func:`start_modelyard` migrates a fresh home (temporary unless given), creates an admin with an
  API token, starts ``modelyard serve`` on a free 127.0.0.1 port and waits for ``/healthz``.
- :func:`start_process` starts any other server (a peer such as MLflow) the same way.
- :class:`Server` knows its process, base URL and log; :meth:`Server.memory_mb` sums the
  resident (RSS) and proportional (PSS) memory of its process tree (granian's main process and
  its workers); :meth:`Server.stop` ends it by PID (its own process group: SIGTERM, then SIGKILL
  after a grace period).
- :func:`percentile` and :func:`summarise` turn latencies in seconds into p50/p95/p99 in ms.

Every benchmark targets 127.0.0.1 only, bounds its requests in count and time, and stops what it
started even when it fails (use the servers as context managers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx
import psutil

BENCH_DIR = Path(__file__).resolve().parent
MLFLOW_VENV_SCRIPT = BENCH_DIR.parent / "scripts" / "mlflow-venv.sh"
OUT_DIR = BENCH_DIR / "out"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(seconds: Sequence[float]) -> dict[str, float]:
    """Count, p50, p95, p99 and max of latencies given in seconds, in milliseconds."""
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p95_ms": percentile(seconds, 95) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": (max(seconds) * 1000) if seconds else math.nan,
    }


def tree_memory_bytes(pid: int) -> tuple[int, int]:
    """Resident (RSS) and proportional (PSS) memory of a process and all its descendants.

    The RSS sum counts pages shared between the processes (and with any other process mapping
    the same libraries) once per process; PSS splits each shared page among its sharers, so the
    PSS sum is what the tree adds to the machine. PSS needs /proc/PID/smaps_rollup (Linux, same
    user); where it cannot be read it is reported as 0.
    """
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    rss = pss = 0
    for process in processes:
        try:
            rss += process.memory_info().rss
            pss += getattr(process.memory_full_info(), "pss", 0)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss, pss


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (see :func:`tree_memory_bytes`)."""
    return tree_memory_bytes(pid)[0]


@dataclass
class Server:
    """A server process this benchmark started, reachable at ``url``."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    home: Path | None = None
    token: str | None = None
    cleanup_home: bool = False
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        return tree_rss_bytes(self.pid) / (1 << 20)

    def memory_mb(self) -> tuple[float, float]:
        """(RSS, PSS) of the process tree in MiB."""
        rss, pss = tree_memory_bytes(self.pid)
        return rss / (1 << 20), pss / (1 << 20)

    def processes(self) -> int:
        try:
            return 1 + len(psutil.Process(self.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return 0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the server's own process group (its PID), SIGKILL if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.cleanup_home and self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_ready(server: Server, path: str, timeout: float) -> float:
    """Poll ``path`` until it answers 200; returns the seconds it took. Fails fast if the
    process exits."""
    start = time.perf_counter()
    deadline = start + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
                )
            try:
                if client.get(server.url + path).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    server.stop()
    raise TimeoutError(f"{server.name} was not ready after {timeout:.0f} s:\n{server.log_tail()}")


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    ready_path: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    cwd: Path | None = None,
) -> Server:
    """Start a server in its own process group, logging to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    server = Server(name, process, f"http://127.0.0.1:{port}", log_path, _log=log)
    try:
        wait_ready(server, ready_path, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _create_admin(database_url: str) -> str:
    from modelyard.auth import service as auth_service
    from modelyard.auth.schemas import Role, UserCreate
    from modelyard.kit.db import Database

    db = Database(database_url)
    try:
        with db.session() as session:
            user = auth_service.create_user(
                session,
                UserCreate(name="bench-admin", password="bench-password", role=Role.admin),
                actor="bench",
            )
            created = auth_service.create_token(
                session, user, name="bench", lifetime=dt.timedelta(days=1), actor="bench"
            )
    finally:
        db.dispose()
    return created.token


def start_modelyard(
    home: Path | None = None,
    *,
    database_url: str | None = None,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Server:
    """Migrate a fresh home, create an admin token, and serve it with ``modelyard serve``.

    The home is a new temporary directory (removed at stop) unless one is given; the database
    is SQLite under it unless ``database_url`` names another.
    """
    from modelyard.kit import migrate

    cleanup = home is None
    home = home or Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{home / 'modelyard.db'}"
    migrate.upgrade(url)
    token = _create_admin(url)
    port = free_port()
    server_env = {"MODELYARD_HOME": str(home), "MODELYARD_DATABASE_URL": url, **(env or {})}
    argv = [str(VENV_BIN / "modelyard"), "serve", "--port", str(port), "--workers", str(workers)]
    server = start_process(
        "modelyard",
        argv,
        port=port,
        ready_path="/healthz",
        log_dir=home,
        env=server_env,
        timeout=timeout,
    )
    server.home = home
    server.token = token
    server.cleanup_home = cleanup
    return server


def mlflow_bin() -> Path:
    """The MLflow peer's bin directory: ``.venv-mlflow`` from scripts/mlflow-requirements.txt
    (pinned; made on the first run, a minute or so), shared with the tests."""
    print("MLflow peer venv: scripts/mlflow-venv.sh ...", flush=True)
    made = subprocess.run(
        ["bash", str(MLFLOW_VENV_SCRIPT)], check=True, capture_output=True, text=True, timeout=1800
    )
    return Path(made.stdout.strip().splitlines()[-1])
