"""The container image's moving parts that can run here (no container runtime does): the
entry point's commands and the settings it passes, its health check, and compose.yaml's
settings, each a setting modelyard really reads."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from modelyard.config import Settings

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


@pytest.fixture
def fake_modelyard(tmp_path: Path) -> Path:
    """A `modelyard` on PATH that records each call's arguments, one line per call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    script = bin_dir / "modelyard"
    script.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    script.chmod(0o755)
    return calls


def run(args: list[str], calls: Path, **env: str) -> list[str]:
    path = f"{calls.parent / 'bin'}:{os.environ['PATH']}"
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env={"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines()


def test_serve_migrates_then_listens_on_every_address(fake_modelyard: Path) -> None:
    assert run([], fake_modelyard) == [
        "db upgrade",
        "serve --host 0.0.0.0 --port 8000 --workers 1",
    ]


def test_serve_takes_its_port_processes_and_extra_arguments(fake_modelyard: Path) -> None:
    calls = run(
        ["serve", "--access-log"],
        fake_modelyard,
        MODELYARD_PORT="8080",
        MODELYARD_SERVER_PROCESSES="3",
        MODELYARD_MIGRATE="0",
    )
    assert calls == ["serve --host 0.0.0.0 --port 8080 --workers 3 --access-log"]


def test_worker_serves_metrics_and_health_on_every_address(fake_modelyard: Path) -> None:
    calls = run(["worker", "--no-warm"], fake_modelyard, MODELYARD_WORKER_CONCURRENCY="4")
    assert calls == ["worker --concurrency 4 --metrics-host 0.0.0.0 --metrics-port 9100 --no-warm"]


def test_other_commands_pass_through(fake_modelyard: Path) -> None:
    assert run(["user", "create", "alice"], fake_modelyard) == ["user create alice"]


@pytest.fixture
def live_port() -> Iterator[int]:
    class Live(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health/live" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Live)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _healthcheck(**env: str) -> int:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), "healthcheck"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        timeout=60,
    ).returncode


def test_the_healthcheck_finds_a_server_or_a_worker(live_port: int) -> None:
    closed = _closed_port()
    assert _healthcheck(MODELYARD_PORT=str(live_port), MODELYARD_METRICS_PORT=str(closed)) == 0
    assert _healthcheck(MODELYARD_PORT=str(closed), MODELYARD_METRICS_PORT=str(live_port)) == 0
    assert _healthcheck(MODELYARD_PORT=str(closed), MODELYARD_METRICS_PORT=str(closed)) == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_compose_passes_settings_modelyard_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "minio", "server", "worker"} <= set(services)
    for name in ("server", "worker"):
        env = services[name]["environment"]
        for variable in [v for v in os.environ if v.startswith("MODELYARD_")]:
            monkeypatch.delenv(variable)
        for variable, value in env.items():
            monkeypatch.setenv(variable, str(value))
        settings = Settings()
        # Every MODELYARD_ variable is a setting (or one the entry point reads), spelled right.
        read_by_entrypoint = {
            "MODELYARD_SERVER_PROCESSES",
            "MODELYARD_WORKER_CONCURRENCY",
            "MODELYARD_MIGRATE",
        }
        for variable in env:
            if variable in read_by_entrypoint:
                assert variable in ENTRYPOINT.read_text()
                continue
            path = variable.removeprefix("MODELYARD_").lower().split("__")
            value: object = settings
            for part in path:
                assert hasattr(value, part), f"{name}: {variable} is not a setting"
                value = getattr(value, part)
        assert settings.storage.url == "s3://modelyard/store"
        assert settings.database_url and settings.database_url.startswith("postgresql+psycopg://")
        assert settings.redis_url == "redis://redis:6379/0" and settings.jobs.workers == 0
    # No volume is shared by the server and the workers: only the services, by URL.
    assert "volumes" not in services["server"] and "volumes" not in services["worker"]


def test_the_image_runs_as_a_user_and_checks_its_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER modelyard\n" in dockerfile and "HEALTHCHECK" in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
