"""Paging the versions of a model and the audit log by id cursor, and refusing a bad cursor."""

from __future__ import annotations

from typing import Any

from modelyard.kit.pagination import encode_cursor
from tests.conftest import Api

LINEAR = {"kind": "linear", "intercept": 3.0, "coef": {"a": 1.2}}


def _walk(api: Api, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_versions_page_by_cursor(editor: Api, viewer: Api, unique: str) -> None:
    name = f"cur-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    for _ in range(5):
        r = editor.post(
            f"/models/{name}/versions", json={"flavor": "formula", "parameters": LINEAR}
        )
        assert r.status_code == 201, r.text
    versions = _walk(viewer, f"/models/{name}/versions", {"limit": 2})
    assert [v["version"] for v in versions] == [5, 4, 3, 2, 1]


def test_audit_log_pages_by_cursor(editor: Api, admin: Api, unique: str) -> None:
    name = f"cur-au-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    for i in range(3):
        editor.patch(f"/models/{name}", json={"description": f"d{i}"})
    entries = _walk(admin, "/audit", {"object_key": name, "limit": 2})
    assert len(entries) == 4
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4


def test_bad_id_cursors_are_400(editor: Api, admin: Api, unique: str) -> None:
    name = f"cur-bad-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    for cursor in (
        "not-a-cursor!!",
        encode_cursor(["x"]),
        encode_cursor([True]),
        encode_cursor([1, 2]),
    ):
        for api, path in ((editor, f"/models/{name}/versions"), (admin, "/audit")):
            r = api.get(path, params={"cursor": cursor})
            assert r.status_code == 400, (path, cursor, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert "cursor" in r.json()["detail"]
