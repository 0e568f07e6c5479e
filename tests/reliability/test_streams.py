"""Event streams are capped per user and per process, and ordinary requests are always served.

The caps are checked in process (a TestClient); a real ``modelyard serve`` then holds more
streams than granian's default concurrency (1,024) while ``GET /api/models`` still answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from modelyard.app import create_app
from modelyard.auth.schemas import Role
from modelyard.kit import migrate
from modelyard.kit.errors import PROBLEM_MEDIA_TYPE
from tests.conftest import make_settings
from tests.served import LiveServer, make_token


def _wait_until(predicate, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_streams_are_capped_per_user_and_per_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    alice = {"Authorization": f"Bearer {make_token(url, 'alice', Role.viewer)}"}
    bob = {"Authorization": f"Bearer {make_token(url, 'bob', Role.viewer)}"}
    settings = make_settings(tmp_path, url)
    settings.server.max_streams_per_user = 2
    settings.server.max_streams = 3
    with TestClient(create_app(settings)) as client:
        limiter = client.app.state.streams  # type: ignore[attr-defined]
        with contextlib.ExitStack() as streams:
            for _ in range(2):
                r = streams.enter_context(client.stream("GET", "/api/jobs/events", headers=alice))
                assert r.status_code == 200
                next(r.iter_lines())
            third = client.get("/api/jobs/events", headers=alice)
            assert third.status_code == 429
            assert third.headers["content-type"] == PROBLEM_MEDIA_TYPE
            assert int(third.headers["retry-after"]) > 0
            assert "alice" in third.json()["detail"]
            # The browser's multiplexed stream holds one slot for all its channels.
            r = streams.enter_context(
                client.stream("GET", "/api/events?channel=jobs&channel=job:1", headers=bob)
            )
            assert r.status_code == 200
            next(r.iter_lines())
            assert limiter.open == 3
            full = client.get("/api/jobs/events", headers=bob)
            assert full.status_code == 429 and "server.max_streams" in full.json()["detail"]
            # Ordinary requests are not streams.
            assert client.get("/api/models", headers=bob).status_code == 200
        _wait_until(lambda: limiter.open == 0)
        with client.stream("GET", "/api/jobs/events", headers=alice) as again:
            assert again.status_code == 200  # the slots were given back


async def _open_streams(base: str, tokens: list[str], count: int) -> list[asyncio.StreamWriter]:
    host, port = base.removeprefix("http://").split(":")
    gate = asyncio.Semaphore(128)

    async def one(index: int) -> asyncio.StreamWriter:
        request = (
            f"GET /api/jobs/events HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {tokens[index % len(tokens)]}\r\n\r\n"
        ).encode()
        async with gate:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 120)
            assert head.startswith(b"HTTP/1.1 200"), head
            first = await asyncio.wait_for(reader.read(4096), 120)
            assert b"job events" in first
            return writer

    return list(await asyncio.gather(*(one(i) for i in range(count))))


@pytest.mark.slow
def test_reads_are_served_beside_more_streams_than_granians_default(
    live_server: LiveServer,
) -> None:
    count = 1100  # granian's default concurrency for one worker is 1,024
    server = live_server.served
    suffix = uuid.uuid4().hex[:6]
    tokens = [make_token(server.url, f"streamer-{suffix}-{i}", Role.viewer) for i in range(35)]

    async def scenario() -> None:
        writers = await _open_streams(server.base, tokens, count)
        try:
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
                for _ in range(5):
                    r = await client.get("/api/models", headers=server.headers)
                    assert r.status_code == 200
                assert (await client.get("/health/ready")).status_code == 200
                # a 33rd stream of one user is refused, still without waiting
                over = await client.get(
                    "/api/jobs/events", headers={"Authorization": f"Bearer {tokens[0]}"}
                )
                assert over.status_code == 429
        finally:
            for writer in writers:
                writer.close()

    asyncio.run(scenario())


def test_event_streams_document_their_messages(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()
    for path, event in [
        ("/api/jobs/events", "job"),
        ("/api/jobs/{job_id}/events", "job"),
        ("/api/deployments/{deployment}/events", "interval"),
    ]:
        stream = document["paths"][path]["get"]["responses"]["200"]["content"]
        item = stream["text/event-stream"]["itemSchema"]
        assert item["properties"]["event"]["const"] == event
        assert item["properties"]["data"]["contentMediaType"] == "application/json"
        assert item["properties"]["data"]["contentSchema"]
        assert "429" in document["paths"][path]["get"]["responses"]
    job = document["paths"]["/api/jobs/events"]["get"]["responses"]["200"]["content"]
    data = job["text/event-stream"]["itemSchema"]["properties"]["data"]["contentSchema"]
    assert data == {"$ref": "#/components/schemas/JobOut"}
