"""Admin pages: users and API tokens, for admins only (pages and forms refused to others)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of


def test_admin_adds_a_user_changes_the_role_and_makes_and_revokes_a_token(
    browser_for: Callable[..., TestClient], admin: Api, unique: str
) -> None:
    client = browser_for("admin")
    page = client.get("/admin/users")
    assert page.status_code == 200 and "Add a user" in page.text
    token = csrf_of(page.text)
    r = client.post(
        "/admin/users",
        data={"csrf_token": token, "name": "bad name!", "role": "editor", "password": "short"},
    )
    assert r.status_code == 422 and 'value="bad name!"' in r.text  # the input is kept
    assert 'aria-invalid="true"' in r.text
    name = f"pat-{unique}"
    r = client.post(
        "/admin/users",
        data={"csrf_token": token, "name": name, "role": "viewer", "password": "long-enough-1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert admin.get(f"/users/{name}").json()["role"] == "viewer"
    r = client.post(f"/admin/users/{name}", data={"csrf_token": token, "role": "editor"})
    assert r.status_code == 200  # followed to the page
    assert admin.get(f"/users/{name}").json()["role"] == "editor"

    r = client.post("/admin/tokens", data={"csrf_token": token, "owner": name, "name": "ci"})
    assert r.status_code == 200 and "not shown again" in r.text
    assert r.headers["cache-control"] == "no-store"
    tokens = [t for t in admin.get("/tokens", params={"all": "true"}).json() if t["user"] == name]
    assert len(tokens) == 1 and tokens[0]["prefix"] in r.text
    r = client.post(f"/admin/tokens/{tokens[0]['id']}/revoke", data={"csrf_token": token})
    assert r.status_code == 400
    r = client.post(
        f"/admin/tokens/{tokens[0]['id']}/revoke", data={"csrf_token": token, "confirm": "yes"}
    )
    assert r.status_code == 200
    revoked = [t for t in admin.get("/tokens", params={"all": "true"}).json() if t["user"] == name]
    assert revoked[0]["revoked_at"] is not None
    r = client.post(f"/admin/users/{name}", data={"csrf_token": token, "disabled": "yes"})
    assert admin.get(f"/users/{name}").json()["disabled"] is True


def test_non_admins_see_no_link_and_are_refused(
    browser_for: Callable[..., TestClient], admin: Api, unique: str
) -> None:
    for role in ("viewer", "editor"):
        client = browser_for(role)
        models = client.get("/models").text
        assert 'href="/admin/users"' not in models
        assert client.get("/admin/users").status_code == 403
        token = csrf_of(models)
        for url, data in (
            ("/admin/users", {"name": f"x-{unique}", "role": "admin", "password": "long-enough-1"}),
            (f"/admin/users/{role}", {"role": "admin"}),
            ("/admin/tokens", {"owner": "someone"}),
            ("/admin/tokens/1/revoke", {"confirm": "yes"}),
        ):
            assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert admin.get(f"/users/x-{unique}").status_code == 404
