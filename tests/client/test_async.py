"""``AsyncClient`` against the real server: the same groups, awaited and iterated with async for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from modelyard.client import AsyncClient
from modelyard.jobs.schemas import JobStatus
from tests.client.conftest import write_csv
from tests.served import LiveServer


def test_async_register_upload_evaluate(live_server: LiveServer, name: str, tmp_path: Path) -> None:
    async def flow() -> tuple[list[str], str, float | None, list[JobStatus]]:
        async with AsyncClient(live_server.base, live_server.tokens["editor"]) as client:
            await asyncio.gather(*(client.models.create(f"{name}-{i}") for i in range(3)))
            names = [m.name async for m in client.models.list(q=name, page_size=2)]
            await client.versions.create(
                f"{name}-0", flavor="formula", parameters={"kind": "linear", "coef": {"x": 2.0}}
            )
            await client.aliases.set(f"{name}-0", "champion", 1)
            dataset = await client.datasets.upload(write_csv(tmp_path / "a.csv", 500))
            created = await client.evaluations.create(f"{name}-0@champion", dataset.id, "y")
            states: list[JobStatus] = []
            done = await client.evaluations.wait(
                created.id, progress=lambda j: states.append(j.status)
            )
            return names, done.status, done.metrics.get("mae"), states

    names, status, mae, states = asyncio.run(flow())
    assert names == [f"{name}-{i}" for i in range(3)]
    assert status == "succeeded" and mae is not None and mae < 1.1
    assert states[-1] == JobStatus.succeeded
