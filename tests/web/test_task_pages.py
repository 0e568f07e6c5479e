"""Tasks that only the API could do before, now on pages: targets and deployments created
from forms (errors beside their fields, input kept), the run report, the restart API; each
refused by the server to a viewer, who sees no control for it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of


def test_editor_adds_a_target_and_deploys_on_it(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str, unique: str
) -> None:
    client = browser_for("editor")
    form = client.get("/targets/new")
    assert form.status_code == 200
    token = csrf_of(form.text)
    # bad JSON: the form comes back with the error at its field and the input kept
    r = client.post(
        "/targets/new",
        data={"csrf_token": token, "name": f"t-{unique}", "kind": "push", "config": "{nope"},
    )
    assert r.status_code == 422
    assert "Not valid JSON" in r.text and f'value="t-{unique}"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = client.post(
        "/targets/new",
        data={"csrf_token": token, "name": f"t-{unique}", "kind": "prometheus", "config": "{}"},
    )
    assert r.status_code == 422 and "url" in r.text
    r = client.post(
        "/targets/new",
        data={"csrf_token": token, "name": f"t-{unique}", "kind": "push", "config": "{}"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    listing = client.get(r.headers["location"]).text
    assert f"t-{unique}" in listing and "Created." in listing
    assert editor.get(f"/targets/t-{unique}").json()["kind"] == "push"

    page = client.get(f"/deployments/new?target=t-{unique}").text
    assert f'<option value="t-{unique}" selected>' in page
    assert f'<option value="{model_name}/2">' in page  # the newest version is offered
    r = client.post(
        "/deployments/new",
        data={"csrf_token": token, "name": f"d-{unique}", "target": f"t-{unique}", "model": "nope"},
    )
    assert r.status_code == 422 and "model@production" in r.text
    assert f'value="d-{unique}"' in r.text  # what was typed stays
    r = client.post(
        "/deployments/new",
        data={
            "csrf_token": token,
            "name": f"d-{unique}",
            "target": f"t-{unique}",
            "model": f"{model_name}/1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    shown = client.get(r.headers["location"]).text
    assert "Created." in shown and f"d-{unique}" in shown
    again = client.post(
        "/deployments/new",
        data={
            "csrf_token": token,
            "name": f"d-{unique}",
            "target": f"t-{unique}",
            "model": f"{model_name}/1",
        },
    )
    assert again.status_code == 422 and "already exists" in again.text

    # the run report, from the page
    deployment = editor.get(f"/deployments/d-{unique}").json()
    r = client.post(
        f"/deployments/{deployment['id']}/report",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    shown = client.get(r.headers["location"]).text
    assert f'href="/api/deployments/{deployment["id"]}/report/html"' in shown

    # stopping a target needs the confirmation
    r = client.post(f"/targets/t-{unique}/stop", data={"csrf_token": token})
    assert r.status_code == 400
    r = client.post(
        f"/targets/t-{unique}/stop",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert editor.get(f"/targets/t-{unique}").json()["desired_state"] == "stopped"


def test_a_viewer_sees_no_write_controls_and_is_refused(
    browser_for: Callable[..., TestClient], editor: Api, viewer: Api, unique: str
) -> None:
    r = editor.post(
        "/targets", json={"name": f"v-{unique}", "kind": "push", "config": {}, "start": False}
    )
    assert r.status_code == 201
    client = browser_for("viewer")
    for url in ("/targets", "/deployments"):
        text = client.get(url).text
        assert "New target" not in text and "New deployment" not in text
        assert "Stop…" not in text and "Start v-" not in text
    assert client.get("/targets/new").status_code == 403
    assert client.get("/deployments/new").status_code == 403
    token = csrf_of(client.get("/targets").text)
    for url, data in (
        ("/targets/new", {"name": f"w-{unique}", "kind": "push", "config": "{}"}),
        (f"/targets/v-{unique}/start", {}),
        (f"/targets/v-{unique}/stop", {"confirm": "yes"}),
        ("/deployments/new", {"name": f"w-{unique}", "target": f"v-{unique}", "model": "x/1"}),
    ):
        r = client.post(url, data={"csrf_token": token, **data})
        assert r.status_code == 403, url
    assert viewer.post(f"/deployments/{unique}/restart").status_code == 403
    assert editor.get(f"/targets/v-{unique}").json()["desired_state"] == "stopped"
