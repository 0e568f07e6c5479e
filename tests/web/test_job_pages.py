"""Job pages: the list and a job, the row the live list swaps in, cancel, retry and submit."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of

HTMX = {"HX-Request": "true"}


def _sleep_job(admin: Api, seconds: float = 30, steps: int = 300, **extra: object) -> int:
    r = admin.post(
        "/jobs",
        json={"kind": "sleep", "params": {"seconds": seconds, "steps": steps, **extra}},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_list_and_job_page_show_the_job(browser_for: Callable[..., TestClient], admin: Api) -> None:
    job_id = _sleep_job(admin, seconds=0, steps=1)
    client = browser_for("admin")
    listing = client.get("/jobs")
    assert listing.status_code == 200
    assert f'id="job-{job_id}"' in listing.text
    assert 'data-channel="jobs"' in listing.text
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert f'data-channel="job:{job_id}"' in page.text
    assert "&#34;steps&#34;: 1" in page.text  # parameters, escaped JSON
    row = client.get(f"/jobs/{job_id}/row", headers=HTMX)
    assert row.text.lstrip().startswith(f'<tr id="job-{job_id}"')
    panel = client.get(f"/jobs/{job_id}", headers=HTMX)
    assert 'id="job-panel"' in panel.text and "<html" not in panel.text


def test_others_jobs_are_hidden_from_non_admins(
    browser_for: Callable[..., TestClient], admin: Api
) -> None:
    job_id = _sleep_job(admin, seconds=0, steps=1)
    viewer = browser_for("viewer")
    assert f'id="job-{job_id}"' not in viewer.get("/jobs").text
    assert viewer.get(f"/jobs/{job_id}").status_code == 404
    token = csrf_of(viewer.get("/jobs").text)
    r = viewer.post(f"/jobs/{job_id}/cancel", data={"csrf_token": token, "view": "row"})
    assert r.status_code == 404
    assert admin.get(f"/jobs/{job_id}").json()["cancel_requested"] is False


def test_cancel_then_retry_from_the_page(
    browser_for: Callable[..., TestClient], admin: Api
) -> None:
    job_id = _sleep_job(admin)
    client = browser_for("admin")
    page = client.get("/jobs").text
    assert f'aria-label="Cancel job {job_id}"' in page
    token = csrf_of(page)

    assert client.post(f"/jobs/{job_id}/cancel", data={"view": "row"}).status_code == 403
    assert admin.get(f"/jobs/{job_id}").json()["cancel_requested"] is False

    r = client.post(
        f"/jobs/{job_id}/cancel", data={"view": "row"}, headers={**HTMX, "X-CSRF-Token": token}
    )
    assert r.status_code == 200 and r.text.lstrip().startswith(f'<tr id="job-{job_id}"')
    assert f'aria-label="Cancel job {job_id}"' not in r.text  # no second cancel offered
    assert admin.get(f"/jobs/{job_id}").json()["cancel_requested"] is True

    # Cancelling twice is a clear conflict once it has ended; retry puts it back in the queue.
    for _ in range(200):
        if admin.get(f"/jobs/{job_id}").json()["status"] == "cancelled":
            break
        time.sleep(0.05)
    r = client.post(
        f"/jobs/{job_id}/cancel", data={"view": "panel"}, headers={**HTMX, "X-CSRF-Token": token}
    )
    assert r.status_code == 409 and "already ended" in r.text
    r = client.post(
        f"/jobs/{job_id}/retry",
        data={"view": "panel", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/jobs/{job_id}"
    assert admin.get(f"/jobs/{job_id}").json()["status"] in ("queued", "running")
    admin.post(f"/jobs/{job_id}/cancel")


def test_submit_form(browser_for: Callable[..., TestClient], admin: Api) -> None:
    client = browser_for("admin")
    token = csrf_of(client.get("/jobs").text)
    r = client.post(
        "/jobs",
        data={"kind": "sleep", "params": '{"seconds": 0, "steps": 1}', "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    job_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert admin.get(f"/jobs/{job_id}").json()["params"]["steps"] == 1

    bad = client.post("/jobs", data={"kind": "sleep", "params": "{nope", "csrf_token": token})
    assert bad.status_code == 400 and "not JSON" in bad.text
    bad = client.post(
        "/jobs", data={"kind": "sleep", "params": '{"steps": -1}', "csrf_token": token}
    )
    assert bad.status_code == 422 and "params.steps" in bad.text


def test_viewer_cannot_submit_an_admin_kind(browser_for: Callable[..., TestClient]) -> None:
    client = browser_for("viewer")
    page = client.get("/jobs").text
    assert "Run a job" not in page or "sleep" not in page.split("Run a job", 1)[1]
    r = client.post("/jobs", data={"kind": "sleep", "params": "{}", "csrf_token": csrf_of(page)})
    assert r.status_code == 403 and "needs the admin role" in r.text
