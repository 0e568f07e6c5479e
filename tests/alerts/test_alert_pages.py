"""The alerts page: events listed with their state, acknowledged in place with htmx by an
editor, no acknowledge button for a viewer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelyard.alerts import service as alerts_service
from modelyard.kit.db import Database
from tests.web.conftest import csrf_of, log_in


def _signed_in(app_client: TestClient, name: str) -> TestClient:
    client = TestClient(app_client.app, raise_server_exceptions=False)
    assert log_in(client, name, next_url="/alerts").status_code == 303
    return client


def test_alerts_page_lists_and_acknowledges(
    app_client: TestClient, database: Database, tokens: dict[str, tuple[str, str]], unique: str
) -> None:
    with database.session() as session:
        event_id = alerts_service.raise_event(
            session,
            source="system",
            kind="disk_percent",
            open_key=f"test:{unique}",
            message=f"disk nearly full <{unique}>",
            severity="critical",
            subject="host-a",
        )
    assert event_id is not None

    viewer = _signed_in(app_client, tokens["viewer"][0])
    page = viewer.get("/alerts", params={"severity": "critical"})
    assert page.status_code == 200
    assert f"disk nearly full &lt;{unique}&gt;" in page.text  # autoescaped
    assert f'hx-post="/alerts/{event_id}/ack"' not in page.text
    assert 'href="/alerts"' in page.text  # the nav link
    assert "host-cpu-high" in page.text  # the rules table

    editor = _signed_in(app_client, tokens["editor"][0])
    page = editor.get("/alerts")
    assert f'hx-post="/alerts/{event_id}/ack"' in page.text
    row = editor.post(
        f"/alerts/{event_id}/ack",
        data={"csrf_token": csrf_of(page.text)},
        headers={"HX-Request": "true"},
    )
    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<tr id="alert-{event_id}"')
    assert f"acknowledged by {tokens['editor'][0]}" in row.text

    refused = viewer.post(
        f"/alerts/{event_id}/ack",
        data={"csrf_token": csrf_of(viewer.get("/alerts").text)},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 403

    with database.session() as session:
        alerts_service.resolve_event(session, f"test:{unique}")
    resolved = viewer.get("/alerts", params={"state": "resolved", "severity": "critical"})
    assert f"disk nearly full &lt;{unique}&gt;" in resolved.text


def test_admin_edits_rules_on_the_page_and_others_cannot(
    app_client: TestClient, database: Database, tokens: dict[str, tuple[str, str]], unique: str
) -> None:
    admin = _signed_in(app_client, tokens["admin"][0])
    page = admin.get("/alerts")
    assert 'id="new-rule-form"' in page.text
    token = csrf_of(page.text)
    name = f"page-rule-{unique}"
    form = {"csrf_token": token, "name": name, "metric": "prediction_error_pct", "threshold": "40"}

    bad = admin.post("/alerts/rules", data={**form, "threshold": "lots"})
    assert bad.status_code == 422 and 'id="rule-threshold-error"' in bad.text
    wrong_scope = admin.post("/alerts/rules", data={**form, "scope": "host"})
    assert wrong_scope.status_code == 422 and "per deployment, not per host" in wrong_scope.text

    created = admin.post("/alerts/rules", data=form, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/alerts#rules"
    with database.session() as session:
        rule = next(r for r in alerts_service.list_rules(session) if r.name == name).model_dump()
    assert rule["scope"] == "deployment" and rule["threshold"] == 40 and rule["enabled"]
    again = admin.post("/alerts/rules", data=form)
    assert again.status_code == 422 and "exists" in again.text

    page = admin.get("/alerts")
    assert f'action="/alerts/rules/{rule["id"]}/disable"' in page.text
    assert (
        admin.post(
            f"/alerts/rules/{rule['id']}/disable",
            data={"csrf_token": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert f'action="/alerts/rules/{rule["id"]}/enable"' in admin.get("/alerts").text
    with database.session() as session:
        assert not alerts_service.get_rule(session, rule["id"]).enabled
    assert (
        admin.post(f"/alerts/rules/{rule['id']}/enable", data={"csrf_token": token}).status_code
        == 200
    )

    editor = _signed_in(app_client, tokens["editor"][0])
    editor_page = editor.get("/alerts")
    assert 'id="new-rule-form"' not in editor_page.text
    assert f"/alerts/rules/{rule['id']}/delete" not in editor_page.text
    refused = editor.post(
        f"/alerts/rules/{rule['id']}/delete", data={"csrf_token": csrf_of(editor_page.text)}
    )
    assert refused.status_code == 403
    assert admin.post(f"/alerts/rules/{rule['id']}/delete", data={}).status_code == 403  # no CSRF

    deleted = admin.post(
        f"/alerts/rules/{rule['id']}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert deleted.status_code == 303
    with database.session() as session:
        assert name not in {r.name for r in alerts_service.list_rules(session)}
    assert (
        admin.post(f"/alerts/rules/{rule['id']}/delete", data={"csrf_token": token}).status_code
        == 404
    )
