"""Leases: which process does the work only one process may do at a time.

A lease is two columns of a row, its holder and when the hold lapses. The alert evaluator keeps
named leases in a table of their own (``host:<name>``, ``fleet``); the live loop keeps one on
each target it follows. Holding is a conditional UPDATE per tick: renew the rows that are
ours, take over the rows that are free or have lapsed. The database decides between two
processes that try at once (an UPDATE's WHERE is evaluated under the row's lock), so at most
one holds a lease at any time. The caller's transaction commits the choice, which must happen
before the holder acts on it, so that the others see it.

:class:`LeaseColumns` says where a domain keeps its leases; the domain that owns the table
calls these functions (another domain asks it, through its service).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

__all__ = ["LAPSED", "LeaseColumns", "claimable", "hold", "release"]

LAPSED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""What a released lease's expiry is set to: lapsed for everyone, at once."""


@dataclass(frozen=True)
class LeaseColumns:
    """The holder and expiry columns of one table's leases."""

    owner: InstrumentedAttribute[Any]
    expires_at: InstrumentedAttribute[Any]

    @property
    def table(self) -> Any:
        return self.owner.class_


def claimable(columns: LeaseColumns, owner: str, now: dt.datetime) -> sa.ColumnElement[bool]:
    """Rows ``owner`` may hold at ``now``: free, its own, or lapsed."""
    return sa.or_(columns.owner.is_(None), columns.owner == owner, columns.expires_at < now)


def _updated(session: Session, statement: sa.Update) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def hold(
    session: Session,
    columns: LeaseColumns,
    where: sa.ColumnElement[bool],
    owner: str,
    now: dt.datetime,
    seconds: float,
    *,
    on_take: Mapping[str, object] | None = None,
) -> int:
    """Renew the leases of the rows ``where`` that ``owner`` holds and take those that are
    free or lapsed, until ``now + seconds``; how many rows it holds. ``on_take`` are further
    values written only on the rows it takes over (e.g. when it took them)."""
    expires = now + dt.timedelta(seconds=seconds)
    update = sa.update(columns.table).where(where)
    renewed = _updated(
        session, update.where(columns.owner == owner).values({columns.expires_at.key: expires})
    )
    # after the renewal the rows it holds have not lapsed: this takes only others' rows
    taken = _updated(
        session,
        update.where(sa.or_(columns.owner.is_(None), columns.expires_at < now)).values(
            {columns.owner.key: owner, columns.expires_at.key: expires, **(on_take or {})}
        ),
    )
    return renewed + taken


def release(
    session: Session, columns: LeaseColumns, where: sa.ColumnElement[bool], owner: str
) -> None:
    """Let ``owner``'s leases on the rows ``where`` lapse now (a clean stop hands over at once)."""
    _updated(
        session,
        sa.update(columns.table)
        .where(where, columns.owner == owner)
        .values({columns.expires_at.key: LAPSED}),
    )
