"""Security headers on every page, the session cookie's flags, and problem responses that
never carry markup a browser would render."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.conftest import Api

NOT_PAGES = (
    "/api",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/healthz",
    "/health/",
    "/metrics",
    "/static",
)


def _page_paths(client: TestClient) -> list[str]:
    """Every GET page the app serves, path parameters filled with a value that exists
    nowhere (so error pages are swept too) or a plain number."""
    paths = []
    for route in iter_route_contexts(client.app.router.routes):  # type: ignore[attr-defined]
        path = getattr(route, "path_format", "")
        if "GET" not in (route.methods or ()) or path.startswith(NOT_PAGES):
            continue
        paths.append(re.sub(r"\{[^}]+\}", "999999", path))
    return paths


def _assert_page_headers(path: str, headers: dict[str, str]) -> None:
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, (path, csp)
    assert "default-src 'self'" in csp and "object-src 'none'" in csp, (path, csp)
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[-1].split(";")[0], (path, csp)
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin"), path


@pytest.mark.parametrize("role", [None, "viewer", "admin"])
def test_every_page_sends_the_security_headers(
    browser_for: Callable[[str | None], TestClient], role: str | None
) -> None:
    client = browser_for(role)
    paths = _page_paths(client)
    assert "/models" in paths and "/login" in paths
    for path in paths:
        r = client.get(path, follow_redirects=False)
        assert r.status_code < 500, (path, r.status_code)
        _assert_page_headers(path, dict(r.headers))


def test_static_files_are_nosniff(browser_for: Callable[[str | None], TestClient]) -> None:
    r = browser_for(None).get("/static/app.css")
    assert r.headers.get("x-content-type-options") == "nosniff"


def test_session_cookie_flags(app_client: TestClient, tokens: dict[str, tuple[str, str]]) -> None:
    client = TestClient(app_client.app)
    r = client.post(
        "/api/auth/login", json={"name": tokens["viewer"][0], "password": "password-123"}
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http here; see the https test below
    secure = TestClient(app_client.app, base_url="https://testserver")
    r = secure.post(
        "/api/auth/login", json={"name": tokens["viewer"][0], "password": "password-123"}
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "; secure" in cookie


def test_web_login_cookie_is_secure_over_https(
    app_client: TestClient, tokens: dict[str, tuple[str, str]]
) -> None:
    from tests.web.conftest import log_in

    client = TestClient(app_client.app, base_url="https://testserver")
    r = log_in(client, tokens["viewer"][0])
    assert r.status_code == 303
    session_cookie = [c for c in r.headers.get_list("set-cookie") if "modelyard_session=" in c]
    assert session_cookie and "; secure" in session_cookie[0].lower()


MARKUP = "<script>alert(1)</script>"


def test_api_errors_do_not_echo_renderable_html(admin: Api) -> None:
    for path in (f"/users/{MARKUP}", f"/models/{MARKUP}", f"/no-such-endpoint/{MARKUP}"):
        r = admin.get(path)
        assert 400 <= r.status_code < 500, path
        assert r.headers["content-type"].startswith("application/problem+json"), path
        assert r.headers.get("x-content-type-options") == "nosniff", path
        assert "text/html" not in r.headers["content-type"]
