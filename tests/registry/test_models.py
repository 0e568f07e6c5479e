from __future__ import annotations

from tests.conftest import Api


def test_create_get_update_delete_model(editor: Api, viewer: Api, unique: str) -> None:
    name = f"m-{unique}"
    r = editor.post("/models", json={"name": name, "description": "d", "tags": {"team": "a"}})
    assert r.status_code == 201, r.text
    assert r.json()["tags"] == {"team": "a"}
    assert viewer.get(f"/models/{name}").json()["description"] == "d"
    r = editor.patch(f"/models/{name}", json={"description": "e", "tags": {"team": None, "x": "1"}})
    assert r.json()["description"] == "e" and r.json()["tags"] == {"x": "1"}
    assert editor.delete(f"/models/{name}").status_code == 204
    r = viewer.get(f"/models/{name}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert name in r.json()["detail"]


def test_duplicate_name_is_409_and_keeps_original(editor: Api, unique: str) -> None:
    name = f"dup-{unique}"
    assert editor.post("/models", json={"name": name, "description": "first"}).status_code == 201
    r = editor.post("/models", json={"name": name, "description": "second"})
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]
    assert editor.get(f"/models/{name}").json()["description"] == "first"


def test_validation_error_names_the_field(editor: Api) -> None:
    r = editor.post("/models", json={"name": "has space"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "name"


def test_search_filter_sort_and_paginate(editor: Api, viewer: Api, unique: str) -> None:
    names = [f"search-{unique}-{i:02d}" for i in range(7)]
    for i, name in enumerate(names):
        editor.post(
            "/models", json={"name": name, "tags": {"parity": "even" if i % 2 == 0 else "odd"}}
        )
    editor.post(
        f"/models/{names[3]}/versions",
        json={"flavor": "formula", "parameters": {"kind": "linear", "coef": {"a": 1}}},
    )

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"q": f"search-{unique}", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = viewer.get("/models", params=params).json()
        seen += [m["name"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == names

    desc = viewer.get(
        "/models", params={"q": f"SEARCH-{unique}", "sort": "-name", "limit": 100}
    ).json()
    assert [m["name"] for m in desc["items"]] == names[::-1]

    even = viewer.get("/models", params={"q": unique, "tag": "parity=even"}).json()["items"]
    assert [m["name"] for m in even] == names[0::2]
    tagged = viewer.get("/models", params={"q": unique, "tag": "parity"}).json()["items"]
    assert len(tagged) == 7
    formula = viewer.get("/models", params={"q": unique, "flavor": "formula"}).json()["items"]
    assert [m["name"] for m in formula] == [names[3]]


def test_like_wildcards_are_literal(editor: Api, viewer: Api, unique: str) -> None:
    editor.post("/models", json={"name": f"pct-{unique}"})
    assert viewer.get("/models", params={"q": f"%{unique}"}).json()["items"] == []


def test_bad_cursor_is_400(viewer: Api) -> None:
    r = viewer.get("/models", params={"cursor": "not-a-cursor!!"})
    assert r.status_code == 400
    assert "cursor" in r.json()["detail"]
