from __future__ import annotations

from tests.conftest import Api


def test_no_credentials_is_401(anonymous: Api) -> None:
    r = anonymous.get("/models")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_bad_token_is_401(app_client) -> None:  # type: ignore[no-untyped-def]
    r = Api(app_client, "my_not-a-token").get("/models")
    assert r.status_code == 401


def test_viewer_reads_but_cannot_write(viewer: Api, editor: Api, unique: str) -> None:
    assert viewer.get("/models").status_code == 200
    r = viewer.post("/models", json={"name": f"nope-{unique}"})
    assert r.status_code == 403
    assert "editor" in r.json()["detail"]
    editor.post("/models", json={"name": f"ro-{unique}"})
    assert viewer.delete(f"/models/ro-{unique}").status_code == 403
    assert viewer.get(f"/models/ro-{unique}").status_code == 200


def test_only_admin_manages_users(editor: Api, admin: Api, unique: str) -> None:
    assert editor.get("/users").status_code == 403
    r = admin.post(
        "/users", json={"name": f"u-{unique}", "password": "long-enough", "role": "viewer"}
    )
    assert r.status_code == 201
    assert (
        admin.post("/users", json={"name": f"u-{unique}", "password": "long-enough"}).status_code
        == 409
    )


def test_me(editor: Api) -> None:
    me = editor.get("/users/me").json()
    assert me["name"] == editor.user and me["role"] == "editor"


def test_password_login_sets_session_cookie(app_client, admin: Api, unique: str) -> None:  # type: ignore[no-untyped-def]
    name = f"login-{unique}"
    admin.post("/users", json={"name": name, "password": "correct-horse", "role": "viewer"})
    assert (
        app_client.post(
            "/api/auth/login", json={"name": name, "password": "wrong-horse"}
        ).status_code
        == 401
    )
    r = app_client.post("/api/auth/login", json={"name": name, "password": "correct-horse"})
    assert r.status_code == 200
    assert app_client.get("/api/users/me").json()["name"] == name
    app_client.post("/api/auth/logout")
    app_client.cookies.clear()
    assert app_client.get("/api/users/me").status_code == 401


def test_token_create_list_revoke(app_client, viewer: Api) -> None:  # type: ignore[no-untyped-def]
    created = viewer.post("/tokens", json={"name": "ci", "expires_in_days": 1}).json()
    token = created["token"]
    assert Api(app_client, token).get("/users/me").status_code == 200
    assert any(t["id"] == created["id"] for t in viewer.get("/tokens").json())
    assert "token" not in viewer.get("/tokens").json()[0]
    assert viewer.delete(f"/tokens/{created['id']}").json()["revoked_at"] is not None
    r = Api(app_client, token).get("/users/me")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_viewer_cannot_create_token_for_another(viewer: Api, admin: Api) -> None:
    r = viewer.post("/tokens", json={"user": admin.user})
    assert r.status_code == 403


def test_expired_token_is_401(app_client, database) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from modelyard.auth import service
    from modelyard.auth.schemas import Role, UserCreate

    with database.session() as s:
        user = service.create_user(
            s,
            UserCreate(name="exp-" + dt.datetime.now().strftime("%H%M%S%f"), role=Role.viewer),
            actor="t",
        )
        token = service.create_token(s, user, lifetime=dt.timedelta(seconds=-1), actor="t")
    r = Api(app_client, token.token).get("/users/me")
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_cookie_writes_need_same_origin(app_client, admin: Api, unique: str) -> None:  # type: ignore[no-untyped-def]
    name = f"csrf-{unique}"
    admin.post("/users", json={"name": name, "password": "correct-horse", "role": "editor"})
    assert (
        app_client.post(
            "/api/auth/login", json={"name": name, "password": "correct-horse"}
        ).status_code
        == 200
    )
    try:
        host = "testserver"
        r = app_client.post(
            "/api/models", json={"name": f"x-{unique}"}, headers={"Origin": "https://evil.example"}
        )
        assert r.status_code == 403 and "Cross-site" in r.json()["detail"]
        assert app_client.post("/api/models", json={"name": f"x-{unique}"}).status_code == 403
        assert app_client.get("/api/models").status_code == 200
        r = app_client.post(
            "/api/models", json={"name": f"x-{unique}"}, headers={"Origin": f"http://{host}"}
        )
        assert r.status_code == 201
    finally:
        app_client.post("/api/auth/logout")
        app_client.cookies.clear()


def test_users_change_their_own_password(app_client, admin: Api, unique: str) -> None:  # type: ignore[no-untyped-def]
    name = f"pw-{unique}"
    admin.post("/users", json={"name": name, "password": "first-password", "role": "viewer"})
    token = admin.post("/tokens", json={"user": name}).json()["token"]
    me = Api(app_client, token)
    r = me.patch(
        "/users/me", json={"current_password": "wrong-password", "new_password": "second-password"}
    )
    assert r.status_code == 403
    assert (
        me.patch(
            "/users/me",
            json={"current_password": "first-password", "new_password": "second-password"},
        ).status_code
        == 200
    )
    assert (
        app_client.post(
            "/api/auth/login", json={"name": name, "password": "first-password"}
        ).status_code
        == 401
    )
    assert (
        app_client.post(
            "/api/auth/login", json={"name": name, "password": "second-password"}
        ).status_code
        == 200
    )
    app_client.post("/api/auth/logout")
    app_client.cookies.clear()
