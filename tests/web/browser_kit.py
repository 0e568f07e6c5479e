"""What the browser tests share: Debian's Chromium driven by Playwright against a real
``modelyard serve`` on a free loopback port with its own data directory (the fixtures are in
``conftest.py``: one server and one browser for the whole session, a fresh context per test)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.registry import service as registry
from modelyard.registry.schemas import ModelCreate, VersionCreate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "src" / "modelyard" / "web" / "static" / "vendor"
ADMIN, PASSWORD = "ada", "browser-pass-1"
WAIT_MS = 20_000  # generous: the machine is shared and may be busy


def require_browser() -> Any:
    """Playwright's sync API, or a skip saying what is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing; install it with `apt-get install -y chromium` "
            "(scripts/system-deps.sh does, in `make test`)",
            allow_module_level=True,
        )
    module = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
    module.expect.set_options(timeout=WAIT_MS)
    return module


try:
    from playwright import sync_api
except ImportError:  # pragma: no cover - then require_browser() skips
    sync_api = None  # type: ignore[assignment]
else:
    sync_api.expect.set_options(timeout=WAIT_MS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(home: Path) -> str:
    """Migrate a fresh database and add an admin, some models and an API token."""
    url = f"sqlite:///{home / 'modelyard.db'}"
    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            user = auth_service.create_user(
                s, UserCreate(name=ADMIN, password=PASSWORD, role=Role.admin), actor="test"
            )
            token = auth_service.create_token(
                s, user, lifetime=dt.timedelta(hours=1), actor="test"
            ).token
            for name, description in (
                ("disk-growth", "Daily disk growth from ingest rate."),
                ("latency-linear", "p99 write latency from offered load."),
                ("cpu-per-put", "CPU per put from value size."),
            ):
                registry.create_model(
                    s, ModelCreate(name=name, description=description), actor="test"
                )
                for number in (1, 2):
                    registry.create_version(
                        s,
                        name,
                        VersionCreate(
                            flavor="formula",
                            parameters={"kind": "linear", "intercept": 0.0, "coef": {"x": 1.0}},
                            parent=f"{name}/1" if number == 2 else None,
                        ),
                        None,
                        actor="test",
                    )
                registry.set_alias(s, name, "production", 2, actor="test")
    finally:
        db.dispose()
    return token


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


def _log_in(page: Any) -> None:
    page.goto("/models")
    assert "/login" in page.url and "next=/models" in page.url
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/models")
