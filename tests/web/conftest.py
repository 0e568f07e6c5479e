"""Web UI fixtures: browser-like clients that log in through the login form.

Each client shares the session app (and so its database and lifespan) but has its own cookie
jar, so a viewer and an editor can be signed in side by side.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api

PASSWORD = "password-123"  # what tests/conftest.py gives every role's user
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD, next_url: str = "/models"):  # type: ignore[no-untyped-def]
    page = client.get("/login", params={"next": next_url})
    assert page.status_code == 200
    return client.post(
        "/login",
        data={
            "name": name,
            "password": password,
            "next": next_url,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )


@pytest.fixture
def browser_for(
    app_client: TestClient, tokens: dict[str, tuple[str, str]]
) -> Callable[[str | None], TestClient]:
    """A fresh client with its own cookies, signed in as the given role (None: anonymous)."""

    def make(role: str | None) -> TestClient:
        client = TestClient(app_client.app, raise_server_exceptions=False)
        if role is not None:
            response = log_in(client, tokens[role][0])
            assert response.status_code == 303, response.text
        return client

    return make


@pytest.fixture
def model_name(editor: Api, unique: str) -> str:
    """A model with two versions and a tag, made through the API."""
    name = f"web-{unique}"
    assert (
        editor.post(
            "/models",
            json={"name": name, "description": "A web test model.", "tags": {"team": "web"}},
        ).status_code
        == 201
    )
    for number in (1, 2):
        r = editor.post(
            f"/models/{name}/versions",
            json={
                "flavor": "formula",
                "parameters": {"kind": "linear", "intercept": float(number), "coef": {"x": 1.0}},
                "metrics": {"rmse": 0.5 / number},
                "parent": f"{name}/1" if number == 2 else None,
            },
        )
        assert r.status_code == 201, r.text
    return name
