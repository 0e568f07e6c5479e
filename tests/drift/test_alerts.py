"""A drift check that finds the dataset drifted opens an alert through the alerts domain
(source ``drift``, subject the current dataset, naming the drifted columns) that reaches a
notification channel; a later check of the same pair that is not drifted resolves it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from modelyard.config import Settings
from modelyard.kit.db import Database
from modelyard.kit.time import utcnow
from modelyard.webhooks.delivery import deliver_due
from tests.alerts.test_alerts import Receiver
from tests.conftest import Api
from tests.drift.test_api import check, frame, upload, wait_for


def drift_events(api: Api, current: str) -> list[dict[str, Any]]:
    r = api.get("/alerts", params={"source": "drift", "limit": "500"})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["subject"] == current]


def test_drifted_check_raises_and_a_clean_one_resolves(
    admin: Api, editor: Api, viewer: Api, database: Database, settings: Settings, unique: str
) -> None:
    receiver = Receiver()
    channel = admin.post(
        "/alerts/channels", json={"name": f"drift-{unique}", "url": receiver.url}
    ).json()
    try:
        reference = upload(editor, f"ref-alert-{unique}", frame(3, 400))
        current_name = f"cur-alert-{unique}"
        current = upload(editor, current_name, frame(4, 400, shift=1.0))

        drifted = wait_for(
            editor,
            check(editor, reference=reference, current=current, columns=["a", "b"])["id"],
        )
        assert drifted["status"] == "succeeded" and drifted["dataset_drifted"] is True
        [event] = drift_events(viewer, current_name)
        assert event["resolved_at"] is None and event["severity"] == "warning"
        assert event["kind"] == "data_drift" and "a" in event["detail"]["drifted_columns"]
        assert "(a)" in event["message"] and f"ref-alert-{unique}" in event["message"]

        # drifted again: the open event stays the only one
        again = wait_for(
            editor,
            check(editor, reference=reference, current=current, columns=["a", "b"])["id"],
        )
        assert again["dataset_drifted"] is True
        assert len(drift_events(viewer, current_name)) == 1

        clean = wait_for(
            editor, check(editor, reference=reference, current=current, columns=["b"])["id"]
        )
        assert clean["status"] == "succeeded" and clean["dataset_drifted"] is False
        [event] = drift_events(viewer, current_name)
        assert event["resolved_at"] is not None

        for _ in range(3):
            deliver_due(database, settings.webhooks, now=utcnow() + dt.timedelta(seconds=1))
        mine = [b for b in receiver.received if b["alert"]["id"] == event["id"]]
        assert [b["status"] for b in mine] == ["firing", "resolved"]
    finally:
        admin.delete(f"/alerts/channels/{channel['id']}")
        receiver.close()
