"""Migration 0011 carries alert deliveries into the shared queue: the pending one is still
sent (with its alert as the event document), the log of sent ones is kept, and downgrading
brings them back."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from modelyard.kit import migrate
from modelyard.kit.db import Database
from tests.conftest import PG_ADMIN_URL, _pg_available


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    if not _pg_available():
        pytest.skip("PostgreSQL is not reachable")
    name = f"modelyard_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_alert_deliveries_move_into_the_shared_queue_and_back(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0010")
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    db = Database(fresh_url)
    try:
        with db.engine.begin() as conn:
            channel = conn.execute(
                sa.text(
                    "INSERT INTO alert_channels (name, kind, url, min_severity, send_resolved, "
                    "enabled, created_by, created_at) VALUES ('ops', 'slack', "
                    "'http://127.0.0.1:9/x', 'info', true, true, 'test', :now) RETURNING id"
                ),
                {"now": now},
            ).scalar_one()
            event = conn.execute(
                sa.text(
                    "INSERT INTO alert_events (source, kind, subject, severity, message, detail, "
                    "raised_at) VALUES ('system', 'cpu_percent', 'host-a', 'critical', "
                    "'CPU at 99%', '{\"cores\": 2}', :now) RETURNING id"
                ),
                {"now": now},
            ).scalar_one()
            for transition, status in (("firing", "sent"), ("resolved", "pending")):
                conn.execute(
                    sa.text(
                        "INSERT INTO alert_deliveries (event_id, channel_id, transition, status, "
                        "attempts, next_attempt_at, response_status, created_at) VALUES "
                        "(:event, :channel, :transition, :status, :attempts, :now, :code, :now)"
                    ),
                    {
                        "event": event,
                        "channel": channel,
                        "transition": transition,
                        "status": status,
                        "attempts": 1 if status == "sent" else 0,
                        "code": 200 if status == "sent" else None,
                        "now": now,
                    },
                )
        migrate.upgrade(fresh_url)
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT event, status, attempts, channel_id, alert_id, payload, "
                    "response_status FROM deliveries ORDER BY id"
                ).columns(payload=sa.JSON())
            ).all()
            assert not sa.inspect(conn).has_table("alert_deliveries")
        assert [(r.event, r.status, r.attempts) for r in rows] == [
            ("alert.fired", "sent", 1),
            ("alert.resolved", "pending", 0),
        ]
        assert {(r.channel_id, r.alert_id) for r in rows} == {(channel, event)}
        payload = rows[1].payload
        assert payload["message"] == "CPU at 99%" and payload["detail"] == {"cores": 2}
        assert payload["severity"] == "critical" and payload["id"] == event

        command.downgrade(migrate.alembic_config(fresh_url), "0010")
        with db.engine.connect() as conn:
            back = conn.execute(
                sa.text("SELECT transition, status FROM alert_deliveries ORDER BY id")
            ).all()
        assert [tuple(r) for r in back] == [("firing", "sent"), ("resolved", "pending")]
    finally:
        db.dispose()
