"""The evaluator loop the app's lifespan starts when ``alerts.enabled`` is on: a rule added
while the server runs fires, and its notification reaches a local receiver, without anyone
calling a tick."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from modelyard.alerts import service
from modelyard.alerts.schemas import ChannelCreate, RuleCreate
from modelyard.app import create_app
from modelyard.kit import migrate
from modelyard.kit.db import Database
from tests.alerts.test_alerts import Receiver
from tests.conftest import make_settings


def test_lifespan_runs_the_evaluator_and_notifies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    settings = make_settings(tmp_path, url)
    settings.jobs.workers = 0
    settings.live.enabled = False
    settings.alerts.enabled = True
    settings.alerts.interval_seconds = 0.2
    receiver = Receiver()
    db = Database(url)
    try:
        with db.session() as session:
            service.create_channel(
                session, ChannelCreate(name="hook", url=receiver.url), "test", ["127.0.0.1"]
            )
        with TestClient(create_app(settings)) as client:
            assert client.app.state.alerts is not None  # type: ignore[attr-defined]
            with db.session() as session:
                rule = service.create_rule(
                    session,
                    RuleCreate(name="mem", metric="memory_percent", threshold=0.01),
                    "test",
                )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(
                b["alert"]["rule_id"] == rule.id for b in receiver.received
            ):
                time.sleep(0.1)
        fired = [b for b in receiver.received if b["alert"]["rule_id"] == rule.id]
        assert len(fired) == 1 and fired[0]["status"] == "firing"
        with db.session() as session:
            page = service.list_events(session, state="open", source="system")
        assert [e.rule for e in page.items].count("mem") == 1
    finally:
        receiver.close()
        db.dispose()
