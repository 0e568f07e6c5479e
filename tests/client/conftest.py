"""Clients of the session's real ``modelyard serve``, one per role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.client import Client
from tests.served import LiveServer


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[Client]:
    """An editor's client."""
    with Client(live_server.base, live_server.tokens["editor"]) as c:
        yield c


@pytest.fixture
def admin_client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.base, live_server.tokens["admin"]) as c:
        yield c


@pytest.fixture
def viewer_client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.base, live_server.tokens["viewer"]) as c:
        yield c


@pytest.fixture
def name() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


def write_csv(path: Path, rows: int, *, slope: float = 2.0, shift: float = 0.0) -> Path:
    """x, y = slope * x + 1 (+ a small wobble), and a category column."""
    lines = ["x,y,region"]
    for i in range(rows):
        x = i / 10 + shift
        lines.append(f"{x},{slope * x + 1 + (i % 3 - 1) * 0.01},{'north' if i % 2 else 'south'}")
    path.write_text("\n".join(lines) + "\n")
    return path
