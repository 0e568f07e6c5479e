"""Drift checks through the API, on SQLite and PostgreSQL: identical data is not drifted, a
shifted mean or category mix is (naming the column), bad requests are 422 naming what is
wrong, viewers cannot start one, progress is reported and a running check can be cancelled."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from modelyard.drift import detector
from modelyard.drift import tasks as drift_tasks
from tests.conftest import Api, ended_job_status

DONE = ("succeeded", "failed", "cancelled")


def wait_for(api: Api, drift_id: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/drift/{drift_id}").json()
        if body["status"] in DONE or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def upload(api: Api, name: str, columns: dict[str, Any]) -> int:
    names = list(columns)
    rows = zip(*(columns[n] for n in names), strict=True)
    text = ",".join(names) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)
    r = api.post("/datasets", files={"file": ("data.csv", text.encode())}, data={"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def frame(
    seed: int, rows: int, *, shift: float = 0.0, mix: tuple[float, float, float] = (0.5, 0.3, 0.2)
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "a": np.round(rng.normal(10.0 + shift, 2.0, rows), 4),
        "b": np.round(rng.exponential(3.0, rows), 4),
        "color": rng.choice(["red", "green", "blue"], size=rows, p=list(mix)),
    }


def check(api: Api, **body: Any) -> dict[str, Any]:
    r = api.post("/drift", json=body)
    assert r.status_code == 202, r.text
    return r.json()


@pytest.mark.parametrize("rows", [400, 3000])
def test_same_distribution_is_not_drifted(editor: Api, viewer: Api, unique: str, rows: int) -> None:
    reference = upload(editor, f"ref-{rows}-{unique}", frame(1, rows))
    current = upload(editor, f"cur-{rows}-{unique}", frame(2, rows))
    created = check(editor, reference=reference, current=current)
    assert created["job"]["kind"] == "drift" and created["status"] in ("queued", "running")
    assert [c["name"] for c in created["columns"]] == ["a", "b", "color"]
    result = wait_for(viewer, created["id"])
    assert result["status"] == "succeeded", result
    assert result["dataset_drifted"] is False
    assert result["summary"]["drifted"] == []
    by_name = {c["name"]: c for c in result["results"]}
    small = rows <= 1000
    assert by_name["a"]["method"] == ("ks" if small else "wasserstein")
    assert by_name["color"]["method"] == ("chisquare" if small else "jensenshannon")
    assert set(by_name["a"]["statistics"]) >= {"ks_p_value", "wasserstein_normed", "psi"}
    assert set(by_name["color"]["statistics"]) >= {"chisquare_p_value", "jensenshannon", "psi"}
    histogram = by_name["a"]["histogram"]
    assert len(histogram["edges"]) == len(histogram["reference"]) + 1
    assert sum(histogram["reference"]) == sum(histogram["current"]) == rows
    assert result["progress"] == {"fraction": 1.0, "columns_done": 3, "columns_total": 3}
    job = editor.get(f"/jobs/{created['job_id']}").json()
    assert job["status"] == "succeeded" and job["result"]["drift_id"] == created["id"]
    assert job["progress"]["fraction"] == 1.0 and "column 3/3" in job["progress"]["message"]


@pytest.mark.parametrize("rows", [400, 3000])
def test_a_shifted_mean_is_drifted_and_named(editor: Api, unique: str, rows: int) -> None:
    reference = upload(editor, f"ref-{rows}-{unique}", frame(3, rows))
    current = upload(editor, f"cur-{rows}-{unique}", frame(4, rows, shift=1.0))
    result = wait_for(editor, check(editor, reference=reference, current=current)["id"])
    assert result["status"] == "succeeded", result
    assert result["summary"]["drifted"] == ["a"]
    assert result["summary"]["share_drifted"] == pytest.approx(1 / 3)
    assert result["dataset_drifted"] is False  # 1 of 3 is below the default share of 0.5
    a = next(c for c in result["results"] if c["name"] == "a")
    assert a["drifted"] is True and a["current"]["mean"] > a["reference"]["mean"] + 0.7
    again = wait_for(
        editor,
        check(editor, reference=reference, current=current, columns=["a", "b"], drift_share=0.5)[
            "id"
        ],
    )
    assert again["dataset_drifted"] is True and again["summary"]["columns"] == 2


@pytest.mark.parametrize("rows", [400, 3000])
def test_a_category_mix_shift_is_drifted(editor: Api, unique: str, rows: int) -> None:
    reference = upload(editor, f"ref-{rows}-{unique}", frame(5, rows))
    current = upload(editor, f"cur-{rows}-{unique}", frame(6, rows, mix=(0.25, 0.35, 0.4)))
    result = wait_for(editor, check(editor, reference=reference, current=current)["id"])
    assert result["status"] == "succeeded", result
    assert result["summary"]["drifted"] == ["color"]
    color = next(c for c in result["results"] if c["name"] == "color")
    assert color["histogram"]["categories"][0] == "red"  # the reference's most common first
    assert sum(color["histogram"]["current"]) == rows


def test_methods_and_thresholds_can_be_chosen(editor: Api, unique: str) -> None:
    reference = upload(editor, f"ref-{unique}", frame(7, 3000))
    current = upload(editor, f"cur-{unique}", frame(8, 3000, shift=0.1))
    result = wait_for(
        editor,
        check(
            editor,
            reference=reference,
            current=current,
            numeric_method="ks",
            categorical_method="psi",
        )["id"],
    )
    a = next(c for c in result["results"] if c["name"] == "a")
    # 0.05 std of shift on 3000 rows: below Wasserstein's 0.1, but KS sees it.
    assert (a["method"], a["drifted"]) == ("ks", True), a
    assert a["p_value"] < 0.05 and a["statistics"]["wasserstein_normed"] < 0.1
    color = next(c for c in result["results"] if c["name"] == "color")
    assert color["method"] == "psi" and color["threshold"] == 0.1
    strict = wait_for(
        editor,
        check(
            editor,
            reference=reference,
            current=current,
            columns=["a"],
            numeric_method="ks",
            column_threshold=1e-12,
        )["id"],
    )
    assert strict["results"][0]["drifted"] is False


def test_bad_requests_name_what_is_wrong(editor: Api, viewer: Api, unique: str) -> None:
    reference = upload(editor, f"ref-{unique}", {"a": [1, 2, 3], "t": ["x", "y", "z"]})
    typed = upload(editor, f"typed-{unique}", {"a": ["p", "q", "r"], "t": ["x", "y", "y"]})
    other = upload(editor, f"other-{unique}", {"z": [1, 2, 3]})
    r = editor.post("/drift", json={"reference": reference, "current": typed})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "'a'" in r.json()["detail"] and r.json()["mismatched_columns"] == ["a"]
    ok = editor.post("/drift", json={"reference": reference, "current": typed, "columns": ["t"]})
    assert ok.status_code == 202, ok.text
    r = editor.post(
        "/drift", json={"reference": reference, "current": typed, "columns": ["t", "nope"]}
    )
    assert r.status_code == 422 and "'nope'" in r.json()["detail"]
    assert f"ref-{unique}" in r.json()["detail"]
    r = editor.post("/drift", json={"reference": reference, "current": other})
    assert r.status_code == 422 and "no column in common" in r.json()["detail"]
    r = editor.post("/drift", json={"reference": reference, "current": 10**9})
    assert r.status_code == 404
    r = editor.post("/drift", json={"reference": reference, "current": typed, "drift_share": 2})
    assert r.status_code == 422
    r = editor.post(
        "/drift", json={"reference": reference, "current": typed, "numeric_method": "x"}
    )
    assert r.status_code == 422
    r = viewer.post("/drift", json={"reference": reference, "current": reference})
    assert r.status_code == 403
    assert viewer.get("/drift").status_code == 200
    assert viewer.get("/drift/999999999").status_code == 404


def test_list_by_dataset_and_status(editor: Api, viewer: Api, unique: str) -> None:
    reference = upload(editor, f"ref-{unique}", frame(9, 50))
    current = upload(editor, f"cur-{unique}", frame(10, 50))
    first = check(editor, reference=reference, current=current)["id"]
    second = check(editor, reference=current, current=reference)["id"]
    wait_for(editor, first), wait_for(editor, second)
    listed = viewer.get("/drift", params={"dataset": f"ref-{unique}"}).json()["items"]
    assert [c["id"] for c in listed] == [second, first]
    assert listed[0]["results"] == [] and listed[0]["summary"]["columns"] == 3
    page = viewer.get("/drift", params={"dataset": reference, "limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert all(
        c["status"] == "succeeded"
        for c in viewer.get("/drift", params={"status": "succeeded"}).json()["items"]
    )


def test_a_check_cancelled_halfway(
    editor: Api,
    viewer: Api,
    database,  # type: ignore[no-untyped-def]
    settings,  # type: ignore[no-untyped-def]
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    halfway, release = threading.Event(), threading.Event()
    real = detector.compare_column

    def gated(reference, current, column, options, checkpoint):  # type: ignore[no-untyped-def]
        # The real comparison, paused before the second column until the test has cancelled.
        if column.name == "b":
            halfway.set()
            release.wait(30)
            time.sleep(settings.jobs.progress_flush_seconds + 0.05)
        return real(reference, current, column, options, checkpoint)

    monkeypatch.setattr(detector, "compare_column", gated)
    monkeypatch.setattr(drift_tasks, "PROGRESS_WRITE_SECONDS", 0.0)  # every column's progress
    reference = upload(editor, f"ref-{unique}", frame(11, 200))
    current = upload(editor, f"cur-{unique}", frame(12, 200))
    created = check(editor, reference=reference, current=current)
    try:
        assert halfway.wait(30), wait_for(editor, created["id"], timeout=0)
        running = editor.get(f"/drift/{created['id']}").json()
        assert running["status"] == "running"
        assert running["progress"] == {
            "fraction": pytest.approx(1 / 3),
            "columns_done": 1,
            "columns_total": 3,
        }
        assert viewer.post(f"/drift/{created['id']}/cancel").status_code == 403
        cancelled = editor.post(f"/drift/{created['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
    finally:
        release.set()
    result = wait_for(editor, created["id"])
    assert result["status"] == "cancelled", result
    assert result["results"] == [] and result["dataset_drifted"] is None
    assert ended_job_status(database, created["job_id"]) == "cancelled"
    assert editor.post(f"/drift/{created['id']}/cancel").status_code == 409
