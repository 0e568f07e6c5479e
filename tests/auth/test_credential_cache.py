"""Cached credentials never outlive a change that takes them away in this process."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelyard.auth._cache import CredentialCache
from modelyard.auth.schemas import Principal, Role
from tests.conftest import Api


def _user_with_token(admin: Api, name: str, role: str) -> str:
    assert (
        admin.post(
            "/users", json={"name": name, "password": "long-enough", "role": role}
        ).status_code
        == 201
    )
    created = admin.post("/tokens", json={"user": name, "expires_in_days": 1})
    assert created.status_code == 201
    return str(created.json()["token"])


def test_disabling_a_user_refuses_its_cached_token_at_once(
    app_client: TestClient, admin: Api, unique: str
) -> None:
    name = f"cache-off-{unique}"
    user = Api(app_client, _user_with_token(admin, name, "viewer"))
    assert user.get("/users/me").status_code == 200  # now cached
    assert admin.patch(f"/users/{name}", json={"disabled": True}).status_code == 200
    r = user.get("/users/me")
    assert r.status_code == 401 and "disabled" in r.json()["detail"]


def test_a_role_change_applies_to_the_next_request(
    app_client: TestClient, admin: Api, unique: str
) -> None:
    name = f"cache-role-{unique}"
    user = Api(app_client, _user_with_token(admin, name, "editor"))
    assert user.post("/models", json={"name": f"m-{unique}"}).status_code == 201
    assert admin.patch(f"/users/{name}", json={"role": "viewer"}).status_code == 200
    assert user.post("/models", json={"name": f"m2-{unique}"}).status_code == 403


def test_entries_expire_with_the_token_and_the_ttl() -> None:
    cache = CredentialCache(ttl=60)
    principal = Principal(id=1, name="a", role=Role.viewer)
    cache.put("h1", "api", principal, expires_in=0)
    assert cache.get("h1", "api") is None
    cache.put("h2", "api", principal, expires_in=None)
    assert cache.get("h2", "api") == principal
    assert cache.get("h2", "session") is None
    cache.drop_user(1)
    assert cache.get("h2", "api") is None
