"""``GET /api/events``: the one stream a browser's tabs share, multiplexing the API's streams."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from modelyard.web._events import channel_path, compose_ids, parse_ids
from tests.conftest import Api


def test_channel_names_and_composite_ids() -> None:
    assert channel_path("jobs") == "/api/jobs/events"
    assert channel_path("job:12") == "/api/jobs/12/events"
    assert channel_path("deployment:3") == "/api/deployments/3/events"
    for bad in ("job:0", "job:x", "deployment:", "../api", "models", "job:1/../../x"):
        assert channel_path(bad) is None, bad
    ids = {"jobs": "1700000000000001", "deployment:3": "1700000000000"}
    assert parse_ids(compose_ids(ids)) == ids
    assert parse_ids("nonsense|job:1~5|evil:1~2|job:2~bad id") == {"job:1": "5"}


def _read(client: TestClient, url: str, until: Callable[[list[dict[str, Any]]], bool], **kw: Any):  # type: ignore[no-untyped-def]
    """The messages of a stream (and the last event id) until ``until`` says enough."""
    messages: list[dict[str, Any]] = []
    last_id = ""
    with client.stream("GET", url, **kw) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("id: "):
                last_id = line[4:]
            elif line.startswith("data: "):
                messages.append(json.loads(line[6:]))
                if until(messages):
                    break
    return messages, last_id


def test_one_stream_carries_several_channels_and_resumes(
    browser_for: Callable[..., TestClient], admin: Api
) -> None:
    r = admin.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0.2, "steps": 2}})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    client = browser_for("admin")

    def done(messages: list[dict[str, Any]]) -> bool:
        ended = {(m["channel"], m["event"]) for m in messages}
        return (f"job:{job_id}", "end") in ended and ("deployment:99999999", "error") in ended

    url = f"/api/events?channel=job:{job_id}&channel=deployment:99999999&channel=bogus"
    messages, last_id = _read(client, url, done)
    channels = {m["channel"] for m in messages}
    assert channels == {f"job:{job_id}", "deployment:99999999"}  # the bogus one is dropped
    job_states = [m["data"] for m in messages if m["event"] == "job"]
    assert job_states and job_states[-1]["id"] == job_id
    assert job_states[-1]["status"] == "succeeded"
    error = next(m for m in messages if m["event"] == "error")
    assert error["data"]["status"] == 404
    assert parse_ids(last_id).get(f"job:{job_id}")

    # Resuming with the last id: the finished job's stream has nothing newer to send
    again, _ = _read(
        client,
        f"/api/events?channel=job:{job_id}",
        lambda ms: any(m["event"] == "end" for m in ms),
        headers={"Last-Event-ID": last_id},
    )
    assert [m["event"] for m in again] in (["end"], ["job", "end"])


def test_a_channel_the_user_may_not_read_is_refused(
    browser_for: Callable[..., TestClient], admin: Api
) -> None:
    r = admin.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0.1, "steps": 1}})
    job_id = r.json()["id"]
    viewer = browser_for("viewer")  # not the submitter, not an admin
    messages, _ = _read(viewer, f"/api/events?channel=job:{job_id}", lambda ms: len(ms) >= 1)
    assert messages[0]["event"] == "error" and messages[0]["data"]["status"] == 404
    anonymous = browser_for(None)
    assert anonymous.get(f"/api/events?channel=job:{job_id}").status_code == 401
