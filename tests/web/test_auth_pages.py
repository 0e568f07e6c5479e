"""Login, logout, the redirect to login, and the CSRF checks of forms."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of, log_in


def test_pages_redirect_to_login_with_next(browser_for: Callable[..., TestClient]) -> None:
    client = browser_for(None)
    r = client.get("/models?q=abc&flavor=formula", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/models%3Fq%3Dabc%26flavor%3Dformula"
    assert client.get("/", follow_redirects=True).url.path == "/login"


def test_htmx_request_without_session_gets_hx_redirect(
    browser_for: Callable[..., TestClient],
) -> None:
    r = browser_for(None).get("/models?q=x", headers={"HX-Request": "true"})
    assert r.status_code == 204
    assert r.headers["hx-redirect"].startswith("/login?next=/models")


def test_login_goes_to_next_and_shows_name_and_role(
    app_client: TestClient, tokens: dict[str, tuple[str, str]]
) -> None:
    client = TestClient(app_client.app)
    name = tokens["editor"][0]
    r = log_in(client, name, next_url="/models?q=zz")
    assert r.status_code == 303 and r.headers["location"] == "/models?q=zz"
    cookie = r.headers["set-cookie"]
    assert "modelyard_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/models")
    assert page.status_code == 200
    assert name in page.text and 'class="role role-editor"' in page.text
    # the session also works for the API, like one from POST /api/auth/login
    assert client.get("/api/users/me").json()["name"] == name


def test_wrong_password_shows_the_form_again(
    app_client: TestClient, tokens: dict[str, tuple[str, str]]
) -> None:
    client = TestClient(app_client.app)
    r = log_in(client, tokens["viewer"][0], password="not-the-password")
    assert r.status_code == 401
    assert "Wrong user name or password." in r.text
    assert "modelyard_session" not in client.cookies
    assert client.get("/models", follow_redirects=False).status_code == 303


def test_login_refuses_a_foreign_next_url(
    app_client: TestClient, tokens: dict[str, tuple[str, str]]
) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        client = TestClient(app_client.app)
        r = log_in(client, tokens["viewer"][0], next_url=target)
        assert r.status_code == 303 and r.headers["location"] == "/models", target


def test_login_form_needs_its_csrf_cookie(
    app_client: TestClient, tokens: dict[str, tuple[str, str]]
) -> None:
    client = TestClient(app_client.app)
    r = client.post(
        "/login",
        data={"name": tokens["viewer"][0], "password": "password-123", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "expired" in r.text
    assert "modelyard_session" not in client.cookies


def test_login_from_another_origin_is_refused(
    app_client: TestClient, tokens: dict[str, tuple[str, str]]
) -> None:
    client = TestClient(app_client.app)
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"name": tokens["viewer"][0], "password": "password-123", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_logout_ends_the_session(browser_for: Callable[..., TestClient]) -> None:
    client = browser_for("viewer")
    old_cookie = client.cookies["modelyard_session"]
    token = csrf_of(client.get("/models").text)
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/models", follow_redirects=False).status_code == 303
    # the old cookie is dead on the server too, not only deleted in this browser
    replay = TestClient(client.app, cookies={"modelyard_session": old_cookie})
    assert replay.get("/models", follow_redirects=False).status_code == 303
    assert replay.get("/api/users/me").status_code == 401


def test_logout_without_csrf_token_is_refused(browser_for: Callable[..., TestClient]) -> None:
    client = browser_for("viewer")
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/models", follow_redirects=False).status_code == 200


def test_state_changing_forms_need_the_csrf_token(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    client = browser_for("editor")
    token = csrf_of(client.get(f"/models/{model_name}").text)
    url = f"/models/{model_name}/aliases"
    form = {"alias": "csrf", "version": "1"}

    assert client.post(url, data=form).status_code == 403
    assert client.post(url, data={**form, "csrf_token": "0" * 64}).status_code == 403
    # a token of another session (another user's page) does not fit this session
    other = csrf_of(browser_for("editor").get(f"/models/{model_name}").text)
    assert other != token
    assert client.post(url, data={**form, "csrf_token": other}).status_code == 403
    # the right token from another site's page is still refused
    r = client.post(
        url, data={**form, "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    r = client.post(
        url,
        data={**form, "csrf_token": token},
        headers={"Referer": "https://evil.example/page"},
    )
    assert r.status_code == 403
    assert "csrf" not in editor.get(f"/models/{model_name}").json()["aliases"]

    # same origin with the token (a form field, or htmx's header) goes through
    r = client.post(
        url,
        data={**form, "csrf_token": token},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        url,
        data={"alias": "csrf", "version": "2"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert r.status_code == 200
    assert editor.get(f"/models/{model_name}").json()["aliases"]["csrf"] == 2
