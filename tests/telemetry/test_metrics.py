from __future__ import annotations

from tests.conftest import Api


def test_metrics_need_a_token(anonymous: Api, app_client) -> None:  # type: ignore[no-untyped-def]
    assert app_client.get("/metrics").status_code == 401


def test_requests_are_counted_by_route_template(viewer: Api, unique: str) -> None:
    viewer.get(f"/models/no-such-{unique}")
    body = viewer.client.get("/metrics", headers=viewer.headers).text
    assert 'route="/api/models/{name}"' in body
    assert f"no-such-{unique}" not in body
    assert "modelyard_http_request_duration_seconds_bucket" in body
