"""The one lease mechanism, on the table whose leases two loops share: the live loops'
leases on targets (held through the targets service), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from modelyard.kit import leases
from modelyard.kit.db import Database
from modelyard.models import Target
from modelyard.targets import service as targets

COLUMNS = leases.LeaseColumns(owner=Target.lease_owner, expires_at=Target.lease_expires_at)


def _target(database: Database, name: str, state: str = "running") -> int:
    with database.session() as session:
        row = Target(name=name, kind="push", desired_state=state, created_by="test")
        session.add(row)
        session.flush()
        return row.id


def test_one_owner_holds_a_lease_until_it_lapses_or_is_released(
    database: Database, unique: str
) -> None:
    target = _target(database, f"lease-{unique}")
    mine = Target.id == target
    t0 = dt.datetime.now(dt.UTC)
    with database.session() as s:
        assert leases.hold(s, COLUMNS, mine, "a", t0, 30) == 1
    with database.session() as s:
        assert leases.hold(s, COLUMNS, mine, "b", t0 + dt.timedelta(seconds=29), 30) == 0
        assert leases.hold(s, COLUMNS, mine, "a", t0 + dt.timedelta(seconds=29), 30) == 1
    with database.session() as s:
        assert leases.hold(s, COLUMNS, mine, "b", t0 + dt.timedelta(seconds=58), 30) == 0
        assert leases.hold(s, COLUMNS, mine, "b", t0 + dt.timedelta(seconds=60), 30) == 1
        assert leases.hold(s, COLUMNS, mine, "a", t0 + dt.timedelta(seconds=61), 30) == 0
    with database.session() as s:
        leases.release(s, COLUMNS, mine, "a")  # not a's: no effect
        assert leases.hold(s, COLUMNS, mine, "a", t0 + dt.timedelta(seconds=62), 30) == 0
        leases.release(s, COLUMNS, mine, "b")
        assert leases.hold(s, COLUMNS, mine, "a", t0 + dt.timedelta(seconds=62), 30) == 1
        assert s.scalar(sa.select(Target.lease_owner).where(mine)) == "a"


def test_two_live_loops_share_the_running_targets_without_overlap(
    database: Database, unique: str
) -> None:
    first = _target(database, f"one-{unique}")
    second = _target(database, f"two-{unique}")
    stopped = _target(database, f"off-{unique}", state="stopped")
    ours = {first, second, stopped}
    with database.session() as s:
        held = targets.hold_leases(s, "loop-a", 30, only=ours, renew=False)
    assert {t.id for t in held} == {first, second}  # a stopped target is not followed
    with database.session() as s:
        assert targets.hold_leases(s, "loop-b", 30, only=ours, renew=False) == []
    with database.session() as s:
        targets.release_lease(s, second, "loop-a")  # a clean stop of one target
    with database.session() as s:
        assert [t.id for t in targets.hold_leases(s, "loop-b", 30, only=ours, renew=False)] == [
            second
        ]
    with database.session() as s:
        assert [t.id for t in targets.hold_leases(s, "loop-a", 30, only=ours, renew=True)] == [
            first
        ]
