"""Live progress over Server-Sent Events: per job, all visible jobs, reconnects, Redis fan-out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

import tests.jobs.kinds  # noqa: F401
from modelyard.app import create_app
from modelyard.jobs.schemas import JobOut
from tests.conftest import Api
from tests.jobs.conftest import JobEnv

Event = tuple[str, dict[str, Any]]


def sse(lines: Iterator[str]) -> Iterator[Event]:
    """``(id, job)`` for each ``event: job`` in an SSE body."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields.get("event") == "job":
                yield fields.get("id", ""), orjson.loads(fields["data"])
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value[1:] if value.startswith(" ") else value


def collect(
    api: Api, path: str, until: Callable[[list[Event]], bool], **headers: str
) -> list[Event]:
    events: list[Event] = []
    with api.client.stream("GET", "/api" + path, headers={**api.headers, **headers}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in sse(response.iter_lines()):
            events.append(event)
            if until(events):
                break
    return events


def test_job_stream_starts_with_the_state_and_follows_progress(editor: Api) -> None:
    job_id = editor.post(
        "/jobs", json={"kind": "test.loop", "params": {"steps": 20, "delay": 0.02}}
    ).json()["id"]
    events = collect(
        editor, f"/jobs/{job_id}/events", lambda ev: ev[-1][1]["status"] == "succeeded"
    )
    first = events[0][1]
    assert first["id"] == job_id and first["status"] in ("queued", "running")
    fractions = [job["progress"]["fraction"] for _, job in events if job["status"] == "running"]
    fractions = [f for f in fractions if f is not None]
    assert len(fractions) >= 5 and fractions == sorted(fractions)
    assert events[-1][1]["progress"]["fraction"] == 1.0
    ids = [int(event_id) for event_id, _ in events]
    assert ids == sorted(ids)


def test_every_event_is_a_job_as_the_api_shows_it(editor: Api) -> None:
    """The stream writes its events by hand (batched, coalesced): each is a valid JobOut, the
    same document GET /api/jobs/{id} answers once the job has ended."""
    job_id = editor.post(
        "/jobs", json={"kind": "test.loop", "params": {"steps": 5, "delay": 0.01}}
    ).json()["id"]
    events = collect(
        editor, f"/jobs/{job_id}/events", lambda ev: ev[-1][1]["status"] == "succeeded"
    )
    for _, job in events:
        JobOut.model_validate(job)
    shown = JobOut.model_validate(editor.get(f"/jobs/{job_id}").json())
    assert JobOut.model_validate(events[-1][1]) == shown


def test_job_stream_of_a_finished_job_sends_it_and_ends(admin: Api) -> None:
    job_id = admin.post("/jobs", json={"kind": "test.echo"}).json()["id"]
    collect(admin, f"/jobs/{job_id}/events", lambda ev: ev[-1][1]["status"] == "succeeded")
    with admin.client.stream(
        "GET", f"/api/jobs/{job_id}/events", headers=admin.headers
    ) as response:
        events = list(sse(response.iter_lines()))
    assert [job["status"] for _, job in events] == ["succeeded"]


def test_all_jobs_stream_shows_only_what_the_caller_may_see(
    admin: Api, viewer: Api, unique: str
) -> None:
    mine = viewer.post("/jobs", json={"kind": "test.echo", "params": {"tag": unique}}).json()["id"]
    theirs = admin.post("/jobs", json={"kind": "test.echo", "params": {"tag": unique}}).json()["id"]
    last = viewer.post("/jobs", json={"kind": "test.echo", "params": {"last": True}}).json()["id"]
    since_start = "1"  # Last-Event-ID far in the past: every visible job changed since
    events = collect(
        viewer,
        "/jobs/events",
        lambda ev: any(job["id"] == last and job["status"] == "succeeded" for _, job in ev),
        **{"Last-Event-ID": since_start},
    )
    seen = {job["id"] for _, job in events}
    assert mine in seen and last in seen and theirs not in seen
    assert {job["submitted_by"] for _, job in events} == {viewer.user}
    admin_events = collect(admin, "/jobs/events", lambda ev: True, **{"Last-Event-ID": since_start})
    assert admin_events  # admins see every job


def test_reconnect_gets_the_current_state_first(admin: Api) -> None:
    job_id = admin.post("/jobs", json={"kind": "test.echo"}).json()["id"]
    events = collect(admin, f"/jobs/{job_id}/events", lambda ev: ev[-1][1]["status"] == "succeeded")
    before_end = events[0][0]
    # Reconnecting with the id of an earlier event: the finished job comes first.
    replay = collect(
        admin,
        "/jobs/events",
        lambda ev: any(job["id"] == job_id for _, job in ev),
        **{"Last-Event-ID": str(int(before_end) - 1)},
    )
    assert replay[-1][1]["id"] == job_id and replay[-1][1]["status"] == "succeeded"
    # Without Last-Event-ID only jobs still queued or running are replayed.
    loop_id = admin.post("/jobs", json={"kind": "test.loop"}).json()["id"]
    fresh = collect(admin, "/jobs/events", lambda ev: any(job["id"] == loop_id for _, job in ev))
    assert job_id not in {job["id"] for _, job in fresh}
    admin.post(f"/jobs/{loop_id}/cancel")


@pytest.mark.redis
def test_progress_from_another_process_reaches_sse_clients_through_redis(
    redis_url: str, jobs_sqlite_url: str, tmp_path: Any
) -> None:
    """The server runs no workers; a separate runtime (its own broadcaster, as in another
    process) runs the job, so every event the client sees went through Redis pub/sub."""
    import datetime as dt

    from modelyard.auth import service as auth_service
    from modelyard.auth.schemas import Role, UserCreate

    env = JobEnv("redis", jobs_sqlite_url, tmp_path, redis_url)
    try:
        with env.db.session() as session:
            user = auth_service.create_user(
                session,
                UserCreate(name=f"sse-{env.queue_name[-8:]}", role=Role.editor),
                actor="test",
            )
            token = auth_service.create_token(
                session, user, lifetime=dt.timedelta(hours=1), actor="test"
            ).token
        worker = env.runtime(workers=1)
        with TestClient(create_app(env.settings(workers=0))) as client:
            api = Api(client, token, user.name)
            assert client.app.state.jobs.events.distributed  # type: ignore[attr-defined]
            job_id = api.post(
                "/jobs", json={"kind": "test.loop", "params": {"steps": 10, "delay": 0.03}}
            ).json()["id"]
            events = collect(
                api, f"/jobs/{job_id}/events", lambda ev: ev[-1][1]["status"] == "succeeded"
            )
        progress = [
            job for _, job in events if job["status"] == "running" and job["progress"]["fraction"]
        ]
        assert len(progress) >= 5
        assert worker.running == {}
    finally:
        env.close()
