"""A real ``modelyard serve`` for tests that talk HTTP to it (the client, the CLI, granian).

:func:`serving` starts one on a fresh SQLite home and a free port and stops it with SIGINT;
the ``live_server`` fixture (``tests/conftest.py``) is one such server for the whole session,
with a token for each role, shared by the client and CLI tests.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.kit import migrate
from modelyard.kit.db import Database

MODELYARD = str(Path(sys.executable).with_name("modelyard"))
START_SECONDS = 180  # a loaded 2-core machine imports slowly


def wait_until_up(
    proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float = START_SECONDS
) -> float:
    """Wait until ``url`` answers 200 (the process's log in the failure if it exits or the
    time runs out); returns the deadline it had."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return deadline
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_token(database_url: str, name: str, role: Role) -> str:
    """Create the user ``name`` with ``role`` and return a fresh API token of theirs."""
    db = Database(database_url)
    try:
        with db.session() as session:
            user = auth_service.create_user(
                session, UserCreate(name=name, password="password-123", role=role), actor="test"
            )
            token = auth_service.create_token(
                session, user, lifetime=dt.timedelta(hours=6), actor="test"
            ).token
    finally:
        db.dispose()
    return token


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any MODELYARD_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    return env | extra


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    url: str
    headers: dict[str, str]
    log: Path
    deadline: float
    home: Path = field(default_factory=Path)


@contextmanager
def serving(home: Path, **env: str) -> Iterator[Served]:
    """``modelyard serve`` on a fresh SQLite home with an admin token, once it answers
    /healthz; stopped with SIGINT (killed if it will not stop) when the block ends."""
    url = f"sqlite:///{home / 'modelyard.db'}"
    migrate.upgrade(url)
    headers = {"Authorization": f"Bearer {make_token(url, 'admin', Role.admin)}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = clean_environment(MODELYARD_HOME=str(home), MODELYARD_DATABASE_URL=url, **env)
    log = home / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [MODELYARD, "serve", "--port", str(port)], env=environment, stdout=out, stderr=out
        )
        try:
            deadline = wait_until_up(proc, base + "/healthz", log)
            yield Served(proc, base, url, headers, log, deadline, home)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@dataclass
class LiveServer:
    """The session's ``modelyard serve``: its URL and a token for each role."""

    served: Served
    tokens: dict[str, str]

    @property
    def base(self) -> str:
        return self.served.base

    @property
    def home(self) -> Path:
        return self.served.home
