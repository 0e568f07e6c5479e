"""Web UI fixtures: browser-like clients that log in through the login form.

Each client shares the session app (and so its database and lifespan) but has its own cookie
jar, so a viewer and an editor can be signed in side by side.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.browser_kit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    VENDOR,
    WAIT_MS,
    _free_port,
    _seed,
    _stop_group,
    require_browser,
)

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


# -- the browser tests: one real server and one Chromium for the session ----------------
@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One real `modelyard serve` for every browser test of the session."""
    require_browser()
    if not (VENDOR / "htmx.min.js").is_file():
        subprocess.run(["bash", str(ROOT / "scripts" / "fetch-assets.sh")], check=False)
    if not (VENDOR / "htmx.min.js").is_file():
        pytest.skip("htmx is not in static/vendor and scripts/fetch-assets.sh could not fetch it")
    home = tmp_path_factory.mktemp("browser-home")
    token = _seed(home)
    port = _free_port()
    env = {
        **os.environ,
        "MODELYARD_HOME": str(home),
        "MODELYARD_JOBS__WORKERS": "1",
    }
    env.pop("MODELYARD_DATABASE_URL", None)
    env.pop("MODELYARD_REDIS_URL", None)
    modelyard = shutil.which("modelyard", path=str(Path(sys.executable).parent))
    assert modelyard, "the modelyard command is not installed in this environment"
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen(
        [modelyard, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
        start_new_session=True,  # its own process group: granian's workers are children
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail("modelyard serve exited:\n" + (home / "serve.log").read_text())
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("modelyard serve did not start:\n" + (home / "serve.log").read_text())
            time.sleep(0.2)
        yield {"base": base, "token": token, "home": home}
    finally:
        _stop_group(process)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for every browser test of the session."""
    with require_browser().sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(base_url=server["base"], viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"
