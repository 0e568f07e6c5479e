"""The alert evaluator's named leases (``host:<name>``, ``fleet``): rows of ``alert_leases``
held with :mod:`modelyard.kit.leases`, the one lease mechanism (the live loop holds its
targets' leases with it too). A name nobody has held yet has no row: the first holder inserts
it, and the primary key decides between two processes that insert at once. The caller commits
before the holder evaluates anything, so the choice is visible to the others.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from modelyard.kit import leases
from modelyard.models import AlertLease

__all__ = ["hold", "holder", "release"]

_COLUMNS = leases.LeaseColumns(owner=AlertLease.owner, expires_at=AlertLease.expires_at)


def hold(session: Session, name: str, owner: str, now: dt.datetime, seconds: float) -> bool:
    """Renew or take the lease ``name`` for ``owner`` until ``now + seconds``; whether held."""
    where = AlertLease.name == name
    if leases.hold(session, _COLUMNS, where, owner, now, seconds, on_take={"acquired_at": now}):
        return True
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(AlertLease)
        .values(
            name=name, owner=owner, expires_at=now + dt.timedelta(seconds=seconds), acquired_at=now
        )
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(AlertLease.name)
    ).scalar_one_or_none()
    return inserted is not None


def release(session: Session, name: str, owner: str) -> None:
    """Let the lease lapse now if ``owner`` holds it (a clean stop hands over at once)."""
    leases.release(session, _COLUMNS, AlertLease.name == name, owner)


def holder(session: Session, name: str) -> tuple[str, dt.datetime] | None:
    """The owner and expiry of ``name``, or None when nobody has taken it."""
    row = session.execute(
        sa.select(AlertLease.owner, AlertLease.expires_at).where(AlertLease.name == name)
    ).first()
    return None if row is None else (row.owner, row.expires_at)
