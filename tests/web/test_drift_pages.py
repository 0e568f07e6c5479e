"""Drift pages: an editor starts a check from the list's form, the check's page shows the
verdict with a histogram per column; viewers read but cannot start; unknown checks 404."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of


def _dataset(api: Api, name: str, shift: float, seed: int) -> int:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1.0, 300)
    colors = ["red", "blue", "red"] * 100  # the same mix in every dataset
    text = "a,color\n" + "".join(f"{x:.4f},{c}\n" for x, c in zip(a, colors, strict=True))
    r = api.post("/datasets", files={"file": ("d.csv", text.encode())}, data={"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_start_a_check_and_read_it(
    browser_for: Callable[[str | None], TestClient], editor: Api, unique: str
) -> None:
    reference = _dataset(editor, f"page-ref-{unique}", 0.0, 1)
    current = _dataset(editor, f"page-cur-{unique}", 1.0, 2)
    page_editor = browser_for("editor")
    listing = page_editor.get("/drift")
    assert listing.status_code == 200 and "Compare two datasets" in listing.text
    started = page_editor.post(
        "/drift",
        data={
            "reference": str(reference),
            "current": str(current),
            "columns": "",
            "csrf_token": csrf_of(listing.text),
        },
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    drift_id = int(url.rsplit("/", 1)[1])
    deadline = time.monotonic() + 60
    while editor.get(f"/drift/{drift_id}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    page = page_editor.get(url)
    assert page.status_code == 200
    assert "1 of 2 columns drifted" in page.text
    assert "<svg" in page.text and "<rect" in page.text
    assert "ks" in page.text and "drifted</strong>" in page.text

    viewer = browser_for("viewer")
    listing = viewer.get("/drift")
    assert listing.status_code == 200 and f"#{drift_id}" in listing.text
    assert "Compare two datasets" not in listing.text
    assert viewer.get(url).status_code == 200
    assert viewer.get("/drift/999999999").status_code == 404


def test_a_mismatch_is_a_readable_error(
    browser_for: Callable[[str | None], TestClient], editor: Api, unique: str
) -> None:
    reference = _dataset(editor, f"page-a-{unique}", 0.0, 3)
    page_editor = browser_for("editor")
    listing = page_editor.get("/drift")
    r = page_editor.post(
        "/drift",
        data={
            "reference": str(reference),
            "current": str(reference),
            "columns": "a, nope",
            "csrf_token": csrf_of(listing.text),
        },
    )
    assert r.status_code == 422 and "nope" in r.text
    assert r.headers["content-type"].startswith("text/html")
