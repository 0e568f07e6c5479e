"""Operating several processes: ``modelyard serve`` refuses a port that is taken, and with
several server processes /metrics adds up all of them (Prometheus' multiprocess mode, set up
by ``serve`` itself in a directory emptied at start)."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from modelyard.auth.schemas import Role
from modelyard.kit import migrate
from tests.served import MODELYARD, START_SECONDS, clean_environment, free_port, make_token


def test_serve_refuses_a_port_another_server_holds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as granian binds
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [MODELYARD, "serve", "--port", str(port)],
            env=clean_environment(MODELYARD_HOME=str(tmp_path), MODELYARD_DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert f"Port {port} on 127.0.0.1 is already in use" in message
    assert "--port" in message and "pytest" in message  # names the process holding it


@pytest.mark.slow
def test_metrics_of_several_server_processes_add_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    token = make_token(url, "admin", Role.admin)
    stale = tmp_path / "tmp" / f"prometheus-{(port := free_port())}"
    stale.mkdir(parents=True)
    (stale / "counter_4242.db").write_bytes(b"left by an earlier run")
    env = clean_environment(
        MODELYARD_HOME=str(tmp_path), MODELYARD_DATABASE_URL=url, MODELYARD_JOBS__WORKERS="0"
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [MODELYARD, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(base_url=base, timeout=10) as client:
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            assert not (stale / "counter_4242.db").exists()  # emptied at start
            # New connections each time, so both processes answer some of them.
            for _ in range(40):
                with httpx.Client(base_url=base, timeout=10) as once:
                    assert once.get("/health/live").status_code == 200
            text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
        counted = re.search(
            r'modelyard_http_requests_total\{method="GET",route="/health/live",status="200"\} '
            r"(\d+)\.0",
            text,
        )
        assert counted is not None, text[:2000]
        assert int(counted.group(1)) == 40
        pids = set(re.findall(r'modelyard_process_resident_bytes\{pid="(\d+)"\}', text))
        assert len(pids) == 2, text[:2000]  # one gauge per live server process
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
