"""Every documented endpoint checks its caller, swept from /openapi.json.

A new endpoint is covered the day it is added: without credentials it must answer 401, a
viewer may not write, and an editor may not reach what only an admin manages. The few
endpoints a caller needs before or about themselves (log in, log out, their own password and
tokens) are listed here by name, so widening that list is a visible decision.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Api

WRITE_METHODS = {"post", "put", "patch", "delete"}
# A number no fixture creates: a probe must never touch a real row (DELETE /tokens/1 could be
# the caller's own token).
PROBE = "987654321"

OPEN_TO_ANONYMOUS = {
    ("get", "/healthz"),
    # an orchestrator's probes carry no credentials; they say which dependency is missing
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
}
VIEWER_MAY_WRITE = {
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("patch", "/api/users/me"),
    ("post", "/api/tokens"),
    ("delete", "/api/tokens/{token_id}"),
    # Jobs carry a role per kind (checked by the service, tests/jobs/test_api.py) and a
    # submitter may cancel or retry their own: the checks below are per job, not per route.
    ("post", "/api/jobs"),
    ("post", "/api/jobs/{job_id}/cancel"),
    ("post", "/api/jobs/{job_id}/retry"),
    # Predictions are a read with a body: every role may ask for them (tests/serving).
    ("post", "/api/models/{ref}/predict"),
}
ADMIN_ONLY = re.compile(r"^/api/(users(?!/me)|admin/|alerts/(rules|channels|evaluate))")
ADMIN_ONLY_READS_ALLOWED = {("get", "/api/alerts/rules"), ("get", "/api/alerts/rules/{rule_id}")}


def _operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [(method, path) for path, ops in spec["paths"].items() for method in ops]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", PROBE, path)


def test_the_sweep_sees_every_domain(app_client: TestClient) -> None:
    paths = {path for _, path in _operations(app_client)}
    for prefix in (
        "/api/models",
        "/api/jobs",
        "/api/datasets",
        "/api/evaluations",
        "/api/deployments",
        "/api/targets",
        "/api/reports",
        "/api/users",
    ):
        assert any(p.startswith(prefix) for p in paths), prefix


def test_no_credentials_is_refused_everywhere(app_client: TestClient, anonymous: Api) -> None:
    refused = []
    for method, path in _operations(app_client):
        if (method, path) in OPEN_TO_ANONYMOUS or path == "/metrics":
            continue
        response = app_client.request(method.upper(), _concrete(path))
        if response.status_code != 401:
            refused.append(f"{method.upper()} {path} -> {response.status_code}")
        else:
            assert response.headers["content-type"] == "application/problem+json", path
    assert not refused, "answered without credentials:\n" + "\n".join(refused)


def test_viewer_cannot_write_anywhere(app_client: TestClient, viewer: Api) -> None:
    allowed = []
    for method, path in _operations(app_client):
        if method not in WRITE_METHODS or (method, path) in VIEWER_MAY_WRITE:
            continue
        response = app_client.request(method.upper(), _concrete(path), headers=viewer.headers)
        if response.status_code != 403:
            allowed.append(f"{method.upper()} {path} -> {response.status_code}")
    assert not allowed, "a viewer got past the role check:\n" + "\n".join(allowed)


def test_viewer_may_not_submit_any_product_job(viewer: Api) -> None:
    # every kind the product registers (the suite's own test kinds aside)
    import modelyard.tasks  # noqa: F401
    from modelyard.jobs.kinds import all_kinds

    product = [k.name for k in all_kinds() if not k.name.startswith("test.")]
    assert {"evaluation", "weekly_report", "drift"} <= set(product)
    offered = {k["name"] for k in viewer.get("/jobs/kinds").json()}
    assert not offered & set(product)
    for kind in product:
        response = viewer.post("/jobs", json={"kind": kind, "params": {}})
        assert response.status_code == 403, (kind, response.status_code, response.text)


def test_editor_cannot_administer(app_client: TestClient, editor: Api) -> None:
    allowed = []
    checked = 0
    for method, path in _operations(app_client):
        if not ADMIN_ONLY.match(path) or (method, path) in ADMIN_ONLY_READS_ALLOWED:
            continue
        if path.endswith("/events"):
            continue
        checked += 1
        response = app_client.request(method.upper(), _concrete(path), headers=editor.headers)
        if response.status_code != 403:
            allowed.append(f"{method.upper()} {path} -> {response.status_code}")
    assert checked >= 4
    assert not allowed, "an editor reached an admin endpoint:\n" + "\n".join(allowed)


def test_metrics_need_a_token(app_client: TestClient, viewer: Api) -> None:
    assert app_client.get("/metrics").status_code == 401
    assert app_client.get("/metrics", headers=viewer.headers).status_code == 200
