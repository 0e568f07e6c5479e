"""Recent login attempts, kept only as long as the login throttle needs them.

A failed password check adds a row; a successful one removes that name's failures from that
address and leaves one ``succeeded`` row, which marks the address as one the user is known to
sign in from (such an address is spared the per-user lock that other addresses trigger).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_user_name_at", "user_name", "at"),
        sa.Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(64))
    succeeded: Mapped[bool] = mapped_column(default=False)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
