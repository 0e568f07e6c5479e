"""Model and version tasks on pages: Markdown descriptions rendered safely and edited,
"promote to" on a version, deleting a version or a model after a confirmation (audited);
refused to viewers, who see none of the controls."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of


def test_markdown_descriptions_are_rendered_safely(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    client = browser_for("editor")
    page = client.get(f"/models/{model_name}").text
    text = (
        "## Inputs\n\n**rate** in ops/s, see [the notes](https://example.org/notes).\n\n"
        '<script>alert(1)</script> [bad](javascript:alert(1)) <img src=x onerror="alert(1)">'
    )
    r = client.post(
        f"/models/{model_name}/description",
        data={"csrf_token": csrf_of(page), "description": text},
        follow_redirects=False,
    )
    assert r.status_code == 303
    shown = client.get(r.headers["location"]).text
    assert "<h2>Inputs</h2>" in shown and "<strong>rate</strong>" in shown
    assert '<a href="https://example.org/notes">the notes</a>' in shown
    assert "<script>alert(1)</script>" not in shown and "&lt;script&gt;" in shown
    assert 'href="javascript:' not in shown and "<img src=x" not in shown
    assert "Saved." in shown
    assert editor.get(f"/models/{model_name}").json()["description"] == text


def test_promote_a_version_and_delete_with_confirmation(
    browser_for: Callable[..., TestClient], editor: Api, admin: Api, model_name: str
) -> None:
    client = browser_for("editor")
    page = client.get(f"/models/{model_name}/versions/2").text
    assert "Promote to production" in page
    token = csrf_of(page)
    r = client.post(
        f"/models/{model_name}/versions/2/promote",
        data={"csrf_token": token, "alias": "production"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert editor.get(f"/models/{model_name}").json()["aliases"]["production"] == 2
    shown = client.get(r.headers["location"]).text
    assert "Alias moved." in shown and "Promote to production" not in shown

    r = client.post(f"/models/{model_name}/versions/1/delete", data={"csrf_token": token})
    assert r.status_code == 400
    r = client.post(
        f"/models/{model_name}/versions/1/delete",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert editor.get(f"/models/{model_name}/versions/1").status_code == 404

    r = client.post(f"/models/{model_name}/delete", data={"csrf_token": token, "confirm": "x"})
    assert r.status_code == 400 and "Type the model" in r.text
    # the model page again, the confirmation open, what was typed kept and marked
    assert '<details class="confirm" open>' in r.text
    assert 'value="x" aria-invalid="true" aria-describedby="delete-model-error"' in r.text
    assert editor.get(f"/models/{model_name}").status_code == 200
    r = client.post(
        f"/models/{model_name}/delete",
        data={"csrf_token": token, "confirm": model_name},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/models?done=deleted"
    assert editor.get(f"/models/{model_name}").status_code == 404
    audit = admin.get("/audit", params={"limit": 50}).json()["items"]
    actions = {(a["action"], a["object_key"]) for a in audit}
    assert ("model.delete", model_name) in actions and ("version.delete", model_name) in actions


def test_a_viewer_sees_no_model_write_controls_and_is_refused(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    client = browser_for("viewer")
    model_page = client.get(f"/models/{model_name}").text
    version_page = client.get(f"/models/{model_name}/versions/1").text
    for text in (model_page, version_page):
        for control in ("Promote to", "Delete ", "Edit the description", "Set alias", "Add tag"):
            assert control not in text, control
    token = csrf_of(model_page)
    for url, data in (
        (f"/models/{model_name}/description", {"description": "x"}),
        (f"/models/{model_name}/versions/1/promote", {"alias": "production"}),
        (f"/models/{model_name}/versions/1/delete", {"confirm": "yes"}),
        (f"/models/{model_name}/delete", {"confirm": model_name}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert editor.get(f"/models/{model_name}").json()["description"] == "A web test model."
    assert editor.get(f"/models/{model_name}/versions/1").status_code == 200


def test_prediction_logging_is_switched_from_the_model_page(
    browser_for: Callable[..., TestClient], editor: Api, admin: Api, model_name: str
) -> None:
    viewer = browser_for("viewer")
    shown = viewer.get(f"/models/{model_name}").text
    assert "Predict requests of this model are not logged." in shown
    assert "Log predictions to datasets" not in shown
    refused = viewer.post(
        f"/models/{model_name}/prediction-log",
        data={"csrf_token": csrf_of(shown), "enabled": "on"},
    )
    assert refused.status_code == 403
    assert editor.get(f"/models/{model_name}/prediction-log").json()["enabled"] is False

    client = browser_for("editor")
    page = client.get(f"/models/{model_name}").text
    token = csrf_of(page)
    assert (
        client.post(
            f"/models/{model_name}/prediction-log", data={"csrf_token": token, "enabled": "maybe"}
        ).status_code
        == 400
    )
    r = client.post(
        f"/models/{model_name}/prediction-log",
        data={"csrf_token": token, "enabled": "on"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert editor.get(f"/models/{model_name}/prediction-log").json()["enabled"] is True
    shown = client.get(r.headers["location"]).text
    assert "logged to datasets from the next request on" in shown
    assert "Stop logging predictions" in shown and f"{model_name}.predictions" in shown
    audit = admin.get("/audit", params={"limit": 20}).json()["items"]
    assert any(
        a["action"] == "model.prediction_log" and a["object_key"] == model_name for a in audit
    )
