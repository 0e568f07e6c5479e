"""Leases that elect one evaluator for the rules no single process owns.

A lease is a row named for what it covers (``host:<name>``, ``fleet``) with its holder and
an expiry. Holding is one conditional UPDATE per tick: renew when the row is ours, take it
over when it has lapsed, insert it when there is none. The database decides between two
processes that try at once (the UPDATE's WHERE is evaluated under the row's lock, the INSERT
conflicts on the primary key), so at most one holds a lease at any time. Each call commits
on its own so the choice is visible to the others before the holder evaluates anything.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from modelyard.models import AlertLease

__all__ = ["hold", "holder", "release"]

_LAPSED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _updated(session: Session, statement: sa.Update) -> bool:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def hold(session: Session, name: str, owner: str, now: dt.datetime, seconds: float) -> bool:
    """Renew or take the lease ``name`` for ``owner`` until ``now + seconds``; whether held."""
    expires = now + dt.timedelta(seconds=seconds)
    lease = sa.update(AlertLease).where(AlertLease.name == name)
    if _updated(session, lease.where(AlertLease.owner == owner).values(expires_at=expires)):
        return True
    if _updated(
        session,
        lease.where(AlertLease.expires_at < now).values(
            owner=owner, expires_at=expires, acquired_at=now
        ),
    ):
        return True
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(AlertLease)
        .values(name=name, owner=owner, expires_at=expires, acquired_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(AlertLease.name)
    ).scalar_one_or_none()
    return inserted is not None


def release(session: Session, name: str, owner: str) -> None:
    """Let the lease lapse now if ``owner`` holds it (a clean stop hands over at once)."""
    session.execute(
        sa.update(AlertLease)
        .where(AlertLease.name == name, AlertLease.owner == owner)
        .values(expires_at=_LAPSED)
        .execution_options(synchronize_session=False)
    )


def holder(session: Session, name: str) -> tuple[str, dt.datetime] | None:
    """The owner and expiry of ``name``, or None when nobody has taken it."""
    row = session.execute(
        sa.select(AlertLease.owner, AlertLease.expires_at).where(AlertLease.name == name)
    ).first()
    return None if row is None else (row.owner, row.expires_at)
