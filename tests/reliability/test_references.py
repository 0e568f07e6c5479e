"""References and numbers from clients: never a 500, whatever the spelling.

Ids are ASCII digits within range (``¹``, ``٣`` and 20-digit numbers are names or unknown
ids, never an ``int()`` that fails or a value the database cannot bind); model references
are ``name``, ``name/3``, ``name/latest`` or ``name@alias``; pushed sample times and values
are bounded.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from modelyard.kit import refs
from modelyard.kit.errors import PROBLEM_MEDIA_TYPE, BadRequest, NotFound
from tests.conftest import Api

ODD_IDS = ["¹", "٣", "²³", "99999999999999999999", str(2**63), "0", "00", "-1", "1 ", " 1", "1.0"]


def test_id_or_name_takes_ascii_digits_in_range_only() -> None:
    kwargs = {"what": "target", "listing": "GET /api/targets"}
    assert refs.id_or_name("12", **kwargs) == 12
    assert refs.id_or_name(12, **kwargs) == 12
    assert refs.id_or_name("sales", **kwargs) == "sales"
    assert refs.id_or_name("¹", **kwargs) == "¹"  # a name (that no object has)
    assert refs.id_or_name("٣", **kwargs) == "٣"
    for impossible in ("99999999999999999999", "0", 2**63, 0, -5):
        with pytest.raises(NotFound):
            refs.id_or_name(impossible, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m", refs.ModelReference("m")),
        ("m/latest", refs.ModelReference("m")),
        ("m/3", refs.ModelReference("m", version=3)),
        ("m@production", refs.ModelReference("m", alias="production")),
        ("a.b-c_d/999999999", refs.ModelReference("a.b-c_d", version=999_999_999)),
    ],
)
def test_model_reference_forms(text: str, expected: refs.ModelReference) -> None:
    assert refs.model_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    ["m/¹", "m/٣", "m/0", "m/1000000000", "m/99999999999999999999", "m@", "m@1a", "m/", "m\n",
     "m/3\n", "/3", "@a", "m/3/4", "m@a@b", "", "m/-1", "m/+1"],
)  # fmt: skip
def test_model_reference_refuses_the_rest(text: str) -> None:
    with pytest.raises(BadRequest):
        refs.model_reference(text)


def _problem(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_ids_in_paths_are_404s(admin: Api, odd: str) -> None:
    for collection in ("targets", "deployments"):
        r = admin.get(f"/{collection}/{quote(odd)}")
        _problem(r, 404)
    # Datasets and jobs take integer ids only (pydantic's, which strips spaces: `1 ` may be
    # job 1); anything else is a 404 or a 422 naming the field, never a 500.
    for path in (f"/datasets/{quote(odd)}", f"/jobs/{quote(odd)}"):
        r = admin.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text)
        if r.status_code >= 400:
            assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize("odd", [*ODD_IDS, 10**20, 2**63, -1, 0])
def test_odd_dataset_references_in_bodies_are_4xx(editor: Api, odd: str | int) -> None:
    for path, body in [
        ("/evaluations", {"model": "nothing", "dataset": odd, "target": "y"}),
        ("/drift", {"reference": odd, "current": odd}),
    ]:
        r = editor.post(path, json=body)
        assert 400 <= r.status_code < 500, (path, odd, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize("odd", ["¹", "٣", "0", "1000000000", "99999999999999999999"])
def test_odd_version_selectors_are_4xx(editor: Api, unique: str, odd: str) -> None:
    name = f"refs-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    r = editor.get(f"/models/{name}/versions/{quote(odd)}")
    assert 400 <= r.status_code < 500, r.text
    r = editor.post(
        "/evaluations", json={"model": f"{name}/{odd}", "dataset": "none", "target": "y"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_odd_last_event_id_starts_from_now(admin: Api, unique: str) -> None:
    """``Last-Event-ID`` is a header anyone can send: ``¹`` or a huge number is ignored."""
    r = admin.get(
        "/deployments/999999/events", headers={"Last-Event-ID": "99999999999999999999999"}
    )
    _problem(r, 404)


@pytest.mark.parametrize(
    "sample",
    [
        {"t": 1e306, "metrics": {"a": 1}},
        {"t": -1e306, "metrics": {"a": 1}},
        {"t": 1.7e9, "metrics": {"a": 1e306}},
        {"t": 1.7e9, "metrics": {"a": -1e300}},
        {"t": "99999-01-01T00:00:00Z", "metrics": {"a": 1}},
    ],
)
def test_pushed_samples_out_of_range_are_422(editor: Api, unique: str, sample: dict) -> None:  # type: ignore[type-arg]
    name = f"push-{unique}"
    created = editor.post("/targets", json={"name": name, "kind": "push", "start": False})
    assert created.status_code == 201, created.text
    r = editor.post(f"/targets/{name}/metrics", json={"samples": [sample]})
    _problem(r, 422)
