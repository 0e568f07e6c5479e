"""Evaluation pages: list with filters, one evaluation with its metrics, compare, cancel."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of

pytest.importorskip("modelyard.evaluations.service")

HTMX = {"HX-Request": "true"}
CSV = b"x,y,region\n1,2.0,eu\n2,4.5,eu\n3,5.5,us\n4,8.0,us\n"


def _wait(api: Api, evaluation_id: int) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while True:
        body = api.get(f"/evaluations/{evaluation_id}").json()
        if body["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return body  # type: ignore[no-any-return]
        time.sleep(0.05)


@pytest.fixture
def evaluations(editor: Api, model_name: str, unique: str) -> list[int]:
    """Two finished evaluations of the two versions of ``model_name``, sliced by region."""
    r = editor.post("/datasets", files={"file": ("d.csv", CSV)}, data={"name": f"ds-{unique}"})
    assert r.status_code == 201, r.text
    dataset = r.json()["id"]
    ids = []
    for version in (1, 2):
        r = editor.post(
            "/evaluations",
            json={
                "model": f"{model_name}/{version}",
                "dataset": dataset,
                "target": "y",
                "slice_by": "region",
            },
        )
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    for evaluation_id in ids:
        assert _wait(editor, evaluation_id)["status"] == "succeeded"
    return ids


def test_list_detail_and_compare(
    browser_for: Callable[..., TestClient], evaluations: list[int], model_name: str
) -> None:
    client = browser_for("viewer")
    listing = client.get("/evaluations", params={"model": model_name})
    assert listing.status_code == 200
    for evaluation_id in evaluations:
        assert f'href="/evaluations/{evaluation_id}"' in listing.text
    assert ">rmse</th>" in listing.text and 'name="ids"' in listing.text
    part = client.get(
        "/evaluations", params={"model": model_name, "status": "failed"}, headers=HTMX
    )
    assert "<html" not in part.text and "No evaluations match" in part.text

    page = client.get(f"/evaluations/{evaluations[0]}").text
    assert "Metrics" in page and ">rmse</strong>" in page
    assert "By region" in page and ">eu</th>" in page and ">us</th>" in page
    assert 'hx-trigger="every 2s"' not in page  # finished: no more polling
    assert f"{model_name}/1</a>" in page

    compared = client.get(
        "/evaluations/compare", params=[("ids", str(evaluations[0])), ("ids", str(evaluations[1]))]
    )
    assert compared.status_code == 200
    assert (
        f'href="/evaluations/{evaluations[1]}"' in compared.text and ">rmse</th>" in compared.text
    )
    # one pick: the list again (its filter kept), the tick kept, the reason by the button
    one = client.get(
        "/evaluations/compare", params={"ids": str(evaluations[0]), "model": model_name}
    )
    assert one.status_code == 400
    assert re.search(r'<p id="compare-error"[^>]*>Tick two or more', one.text)
    assert f'value="{evaluations[0]}" id="cmp-{evaluations[0]}" checked' in one.text
    assert f'value="{evaluations[1]}" id="cmp-{evaluations[1]}" aria-label' in one.text
    assert f'<input type="hidden" name="model" value="{model_name}">' in one.text
    gone = client.get("/evaluations/compare", params={"ids": f"{evaluations[0]},999999999"})
    assert gone.status_code == 404 and 'id="compare-error"' in gone.text
    # with htmx the list is not replaced: the reason alone, or the way to the comparison
    htmx = {"HX-Request": "true"}
    one = client.get("/evaluations/compare", params={"ids": str(evaluations[0])}, headers=htmx)
    assert one.status_code == 400 and one.headers["HX-Retarget"] == "#compare-error"
    assert one.text.startswith('<p id="compare-error"') and "Tick two or more" in one.text
    two = client.get(
        "/evaluations/compare",
        params=[("ids", str(evaluations[0])), ("ids", str(evaluations[1]))],
        headers=htmx,
    )
    assert two.status_code == 204
    assert two.headers["HX-Redirect"] == (
        f"/evaluations/compare?ids={evaluations[0]}%2C{evaluations[1]}"
    )


def test_model_page_links_to_its_evaluations(
    browser_for: Callable[..., TestClient], model_name: str
) -> None:
    page = browser_for("viewer").get(f"/models/{model_name}").text
    assert f'href="/evaluations?model={model_name}"' in page


def test_cancel_is_for_editors_and_ended_ones_conflict(
    browser_for: Callable[..., TestClient], evaluations: list[int]
) -> None:
    viewer = browser_for("viewer")
    token = csrf_of(viewer.get("/evaluations").text)
    r = viewer.post(f"/evaluations/{evaluations[0]}/cancel", data={"csrf_token": token})
    assert r.status_code == 403
    editor = browser_for("editor")
    page = editor.get(f"/evaluations/{evaluations[0]}").text
    assert "Cancel" not in page.split('id="evaluation-panel"', 1)[1]  # it has ended
    r = editor.post(
        f"/evaluations/{evaluations[0]}/cancel",
        headers={**HTMX, "X-CSRF-Token": csrf_of(page)},
    )
    assert r.status_code == 409 and "already ended" in r.text


def test_compare_flags_different_datasets_and_marks_no_best(
    browser_for: Callable[..., TestClient],
    editor: Api,
    evaluations: list[int],
    model_name: str,
    unique: str,
) -> None:
    client = browser_for("viewer")
    same = client.get("/evaluations/compare", params={"ids": f"{evaluations[0]},{evaluations[1]}"})
    assert "not comparable" not in same.text and "★" in same.text
    r = editor.post("/datasets", files={"file": ("e.csv", CSV)}, data={"name": f"other-{unique}"})
    assert r.status_code == 201, r.text
    r = editor.post(
        "/evaluations",
        json={"model": f"{model_name}/1", "dataset": r.json()["id"], "target": "y"},
    )
    assert r.status_code == 202, r.text
    other = r.json()["id"]
    assert _wait(editor, other)["status"] == "succeeded"
    mixed = client.get("/evaluations/compare", params={"ids": f"{evaluations[1]},{other}"})
    assert mixed.status_code == 200
    assert "different datasets" in mixed.text and "★" not in mixed.text
