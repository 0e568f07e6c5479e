"""The jobs REST API: submit, roles, validation, listing, visibility, cancel and retry."""

from __future__ import annotations

import time
from typing import Any

import pytest

import tests.jobs.kinds  # noqa: F401  (registers the test kinds in the app's process)
from tests.conftest import Api


def _wait(
    api: Api, job_id: int, status: tuple[str, ...] = ("succeeded", "failed", "cancelled")
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in status:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def test_submit_run_and_show(admin: Api) -> None:
    r = admin.post(
        "/jobs", json={"kind": "sleep", "params": {"seconds": 0, "steps": 3}, "priority": "high"}
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert r.headers["location"] == f"/api/jobs/{job['id']}"
    assert job["status"] == "queued" and job["priority"] == 75
    assert set(job) >= {
        "id",
        "status",
        "started_at",
        "finished_at",
        "progress",
        "attempts",
        "submitted_by",
    }
    done = _wait(admin, job["id"])
    assert done["status"] == "succeeded"
    assert done["result"] == {"seconds": 0.0, "steps": 3, "attempt": 1}
    assert done["progress"]["fraction"] == 1.0 and done["progress"]["message"] == "step 3/3"
    assert done["started_at"] and done["finished_at"] and done["submitted_by"] == admin.user


def test_integer_priority_and_bad_priorities(admin: Api) -> None:
    r = admin.post("/jobs", json={"kind": "test.echo", "priority": 99})
    assert r.status_code == 201 and r.json()["priority"] == 99
    for bad in (101, -1, "soon", True):
        r = admin.post("/jobs", json={"kind": "test.echo", "priority": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"


def test_kind_role_is_enforced(editor: Api, viewer: Api, anonymous: Api) -> None:
    r = editor.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0}})
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = viewer.post("/jobs", json={"kind": "test.loop", "params": {}})
    assert r.status_code == 403
    assert viewer.post("/jobs", json={"kind": "test.echo"}).status_code == 201
    assert anonymous.post("/jobs", json={"kind": "test.echo"}).status_code == 401
    assert anonymous.get("/jobs").status_code == 401
    assert anonymous.get("/jobs/events").status_code == 401


def test_unknown_kind_and_bad_params_name_the_problem(admin: Api) -> None:
    r = admin.post("/jobs", json={"kind": "no.such-kind"})
    assert (
        r.status_code == 422
        and "no.such-kind" in r.json()["detail"]
        and "sleep" in r.json()["detail"]
    )
    r = admin.post("/jobs", json={"kind": "sleep", "params": {"seconds": -1}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "params.seconds"
    r = admin.post("/jobs", json={"kind": "sleep", "params": {"bogus": 1}})
    assert r.status_code == 422 and "bogus" in r.json()["detail"]
    r = admin.post("/jobs", json={"kind": "Bad Kind!"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
    r = admin.post("/jobs", json={"kind": "test.echo", "params": {"blob": "x" * 300_000}})
    assert r.status_code == 413


def test_kinds_listing_follows_the_role(admin: Api, viewer: Api) -> None:
    admin_kinds = {k["name"]: k for k in admin.get("/jobs/kinds").json()}
    viewer_kinds = {k["name"] for k in viewer.get("/jobs/kinds").json()}
    assert (
        admin_kinds["sleep"]["retryable"]
        and admin_kinds["sleep"]["params_schema"]["properties"]["steps"]
    )
    assert "sleep" not in viewer_kinds and "test.echo" in viewer_kinds


def test_others_jobs_are_invisible_to_non_admins(admin: Api, viewer: Api) -> None:
    admins_job = admin.post("/jobs", json={"kind": "test.echo"}).json()["id"]
    viewers_job = viewer.post("/jobs", json={"kind": "test.echo"}).json()["id"]
    assert viewer.get(f"/jobs/{admins_job}").status_code == 404
    assert viewer.post(f"/jobs/{admins_job}/cancel").status_code == 404
    assert viewer.get(f"/jobs/{admins_job}/events").status_code == 404
    assert admin.get(f"/jobs/{viewers_job}").status_code == 200
    listed = {j["id"] for j in viewer.get("/jobs", params={"limit": 500}).json()["items"]}
    assert viewers_job in listed and admins_job not in listed
    assert viewer.get("/jobs", params={"user": admin.user}).status_code == 403
    by_viewer = admin.get("/jobs", params={"user": viewer.user, "limit": 500}).json()["items"]
    assert by_viewer and {j["submitted_by"] for j in by_viewer} == {viewer.user}


def test_list_filters_and_cursor_pagination(admin: Api, unique: str) -> None:
    ids = [
        admin.post("/jobs", json={"kind": "test.echo", "params": {"tag": unique, "i": i}}).json()[
            "id"
        ]
        for i in range(5)
    ]
    for job_id in ids:
        _wait(admin, job_id)
    seen: list[int] = []
    cursor = None
    while len(seen) < 5:
        params: dict[str, Any] = {"kind": "test.echo", "status": "succeeded", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = admin.get("/jobs", params=params).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        assert cursor
    assert seen[:5] == sorted(ids, reverse=True)
    assert admin.get("/jobs", params={"status": "nonsense"}).status_code == 422
    assert admin.get("/jobs", params={"cursor": "!!"}).status_code == 400


def test_cancel_running_and_conflicts(editor: Api) -> None:
    job_id = editor.post("/jobs", json={"kind": "test.loop"}).json()["id"]
    _wait(editor, job_id, ("running",))
    r = editor.post(f"/jobs/{job_id}/cancel")
    assert r.status_code == 200 and r.json()["cancel_requested"]
    job = _wait(editor, job_id)
    assert job["status"] == "cancelled"
    r = editor.post(f"/jobs/{job_id}/cancel")
    assert r.status_code == 409 and "already ended" in r.json()["detail"]
    r = editor.post(f"/jobs/{job_id}/retry")
    assert r.status_code == 200 and r.json()["status"] == "queued"
    _wait(editor, job_id, ("running",))
    editor.post(f"/jobs/{job_id}/cancel")
    assert _wait(editor, job_id)["status"] == "cancelled"


def test_retry_of_a_succeeded_job_is_a_conflict(admin: Api) -> None:
    job_id = admin.post("/jobs", json={"kind": "test.echo"}).json()["id"]
    _wait(admin, job_id)
    r = admin.post(f"/jobs/{job_id}/retry")
    assert r.status_code == 409 and "only failed or cancelled" in r.json()["detail"]
    assert admin.post("/jobs/999999999/retry").status_code == 404


@pytest.mark.parametrize("path", ["/jobs/0", "/jobs/abc", "/jobs/-1/cancel"])
def test_bad_ids_are_rejected(admin: Api, path: str) -> None:
    assert admin.request("POST" if path.endswith("cancel") else "GET", path).status_code == 422
