"""Input and output shapes of the auth endpoints."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class Role(StrEnum):
    viewer = "viewer"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.viewer: 0, Role.editor: 1, Role.admin: 2}

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class Principal(BaseModel):
    """The caller of a request, as the auth dependency resolved it."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    role: Role

    def can(self, role: Role) -> bool:
        return self.role.rank >= role.rank


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: dt.datetime


class UserCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="Letters, digits, _ . @ -; 1-64 chars.")
    password: str | None = Field(default=None, min_length=8, max_length=256)
    role: Role = Role.viewer


class UserUpdate(BaseModel):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    disabled: StrictBool | None = None


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class LoginIn(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=256)


class TokenCreate(BaseModel):
    name: str = Field(default="", max_length=128)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    user: str | None = Field(
        default=None, description="Admins may create a token for another user."
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user: str
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret; shown once, store it now.")
