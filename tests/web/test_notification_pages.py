"""The admin page of alert channels and webhooks: add (errors beside fields), test send,
enable or disable, delete after a confirmation; refused to non-admins."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.receiver import Receiver
from tests.web.conftest import csrf_of


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_admin_manages_channels_and_webhooks(
    browser_for: Callable[..., TestClient], admin: Api, receiver: Receiver, unique: str
) -> None:
    client = browser_for("admin")
    page = client.get("/admin/notifications")
    assert page.status_code == 200
    token = csrf_of(page.text)
    r = client.post(
        "/admin/channels",
        data={"csrf_token": token, "name": f"c-{unique}", "url": "ftp://x/y", "kind": "webhook"},
    )
    assert r.status_code == 422 and 'value="ftp://x/y"' in r.text
    r = client.post(
        "/admin/channels",
        data={"csrf_token": token, "name": f"c-{unique}", "url": receiver.url, "kind": "slack"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    channel = next(c for c in admin.get("/alerts/channels").json() if c["name"] == f"c-{unique}")
    assert channel["kind"] == "slack" and channel["min_severity"] == "warning"
    client.post(f"/admin/channels/{channel['id']}", data={"csrf_token": token, "enabled": "no"})
    assert not next(c for c in admin.get("/alerts/channels").json() if c["id"] == channel["id"])[
        "enabled"
    ]
    r = client.post(f"/admin/channels/{channel['id']}/delete", data={"csrf_token": token})
    assert r.status_code == 400
    client.post(
        f"/admin/channels/{channel['id']}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert all(c["id"] != channel["id"] for c in admin.get("/alerts/channels").json())

    r = client.post(
        "/admin/webhooks",
        data={"csrf_token": token, "name": f"w-{unique}", "url": receiver.url, "events": "alias.*"},
    )
    assert r.status_code == 200 and "not shown again" in r.text
    hook = next(w for w in admin.get("/webhooks").json() if w["name"] == f"w-{unique}")
    assert hook["events"] == ["alias.*"] and hook["secret_hint"] in r.text
    r = client.post(f"/admin/webhooks/{hook['id']}/test", data={"csrf_token": token})
    assert r.status_code == 200 and "Test send: sent" in r.text
    assert len(receiver.requests) == 1  # the ping reached it
    client.post(
        f"/admin/webhooks/{hook['id']}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert all(w["id"] != hook["id"] for w in admin.get("/webhooks").json())


def test_non_admins_are_refused(browser_for: Callable[..., TestClient]) -> None:
    client = browser_for("editor")
    models = client.get("/models").text
    assert 'href="/admin/notifications"' not in models
    assert client.get("/admin/notifications").status_code == 403
    token = csrf_of(models)
    for url in ("/admin/channels", "/admin/webhooks", "/admin/webhooks/1/test"):
        data = {"csrf_token": token, "name": "x", "url": "http://127.0.0.1:9/x"}
        assert client.post(url, data=data).status_code == 403, url
