"""The login throttle: refuse password guesses once too many have failed lately.

Failures live in the ``login_attempts`` table, so every server process (and every worker
of every host sharing the database) counts the same attempts. Three limits, each over
``auth.login_window_seconds``:

* one user name from one address (``login_failures_per_user``): a guesser at one account;
* one address, whatever the names (``login_failures_per_address``): a sprayer of many names;
* one user name from all addresses (``login_failures_per_user_any_address``): a guesser
  spread over many addresses. This one is not applied to an address the user signed in from
  successfully in the last ``login_known_address_days``, so an attacker who keeps tripping
  it cannot keep the owner out of their usual places.

A refused attempt is answered 429 with ``Retry-After`` before any password is checked and is
not counted, so every lock ends at most one window after the last failure that it counted.
The address is the TCP peer, or behind a reverse proxy listed in ``auth.trusted_proxies`` the
client that proxy names in ``X-Forwarded-For`` (:func:`modelyard.kit.security.client_address`);
behind an unlisted proxy every client shares the proxy's address and its limits.
"""

from __future__ import annotations

import datetime as dt
import math

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from modelyard.config import AuthSettings
from modelyard.kit.errors import TooManyRequests
from modelyard.kit.time import utcnow
from modelyard.models import AuditEntry, LoginAttempt

_NAME_LENGTH = 64
_ADDRESS_LENGTH = 64


def _clip(name: str, address: str) -> tuple[str, str]:
    return name[:_NAME_LENGTH], address[:_ADDRESS_LENGTH]


def _lock_remaining(
    session: Session, where: sa.ColumnElement[bool], limit: int, since: dt.datetime
) -> float:
    """Seconds until fewer than ``limit`` failures matching ``where`` remain in the window
    (0 when there are fewer already): the ``limit``-th most recent one has to age out."""
    if limit <= 0:
        return 0.0
    at = session.scalar(
        sa.select(LoginAttempt.at)
        .where(where, ~LoginAttempt.succeeded, LoginAttempt.at >= since)
        .order_by(LoginAttempt.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if at is None:
        return 0.0
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return (at - since).total_seconds()


def check(session: Session, settings: AuthSettings, name: str, address: str) -> None:
    """Raise :class:`TooManyRequests` when this name or address is locked out."""
    name, address = _clip(name, address)
    now = utcnow()
    since = now - dt.timedelta(seconds=settings.login_window_seconds)
    by_user = LoginAttempt.user_name == name
    by_address = LoginAttempt.address == address
    remaining = max(
        _lock_remaining(session, by_user & by_address, settings.login_failures_per_user, since),
        _lock_remaining(session, by_address, settings.login_failures_per_address, since),
    )
    if remaining <= 0:
        everywhere = _lock_remaining(
            session, by_user, settings.login_failures_per_user_any_address, since
        )
        if everywhere > 0 and not _known_address(session, settings, name, address, now):
            remaining = everywhere
    if remaining > 0:
        retry_after = max(1, math.ceil(remaining))
        raise TooManyRequests(
            f"Too many failed logins; try again in {retry_after} seconds.",
            retry_after=retry_after,
        )


def _known_address(
    session: Session, settings: AuthSettings, name: str, address: str, now: dt.datetime
) -> bool:
    since = now - dt.timedelta(days=settings.login_known_address_days)
    return (
        session.scalar(
            sa.select(LoginAttempt.id)
            .where(
                LoginAttempt.user_name == name,
                LoginAttempt.address == address,
                LoginAttempt.succeeded,
                LoginAttempt.at >= since,
            )
            .limit(1)
        )
        is not None
    )


def record_failure(engine: Engine, settings: AuthSettings, name: str, address: str) -> None:
    """Count a failed login and audit it, in a transaction of its own: the request's own
    transaction is rolled back by the 401 that follows."""
    name, address = _clip(name, address)
    now = utcnow()
    since = now - dt.timedelta(seconds=settings.login_window_seconds)
    with engine.begin() as conn:
        # Failures that aged out of the window count for nothing: dropping them all keeps the
        # table as small as one window's failures, however many names a botnet makes up.
        conn.execute(
            sa.delete(LoginAttempt).where(~LoginAttempt.succeeded, LoginAttempt.at < since)
        )
        conn.execute(
            sa.insert(LoginAttempt).values(user_name=name, address=address, succeeded=False, at=now)
        )
        conn.execute(
            sa.insert(AuditEntry).values(
                at=now,
                actor=name,
                action="auth.login_failed",
                object_type="user",
                object_key=name,
                detail={"address": address},
            )
        )


def record_success(session: Session, settings: AuthSettings, name: str, address: str) -> None:
    """Forget this name's failures from this address and mark the address as known."""
    name, address = _clip(name, address)
    forgotten = utcnow() - dt.timedelta(days=settings.login_known_address_days)
    session.execute(
        sa.delete(LoginAttempt).where(
            (LoginAttempt.user_name == name) & (LoginAttempt.address == address)
            | (LoginAttempt.succeeded & (LoginAttempt.at < forgotten))
        )
    )
    session.add(LoginAttempt(user_name=name, address=address, succeeded=True, at=utcnow()))
    session.flush()
