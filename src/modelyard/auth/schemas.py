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

    id: int = Field(description="The user's id.")
    name: str = Field(description="The user's name, unique.")
    role: Role = Field(description="viewer, editor or admin.")
    disabled: bool = Field(description="A disabled user cannot log in; its tokens stop working.")
    created_at: dt.datetime = Field(description="When the user was made (UTC).")


class UserCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="Letters, digits, _ . @ -; 1-64 chars.")
    password: str | None = Field(
        default=None,
        min_length=8,
        max_length=256,
        description="For logging in to the web UI; without one, only tokens.",
    )
    role: Role = Field(
        default=Role.viewer,
        description="viewer (reads), editor (writes) or admin (users, tokens, settings).",
    )


class UserUpdate(BaseModel):
    role: Role | None = Field(default=None, description="A new role; null keeps it.")
    password: str | None = Field(
        default=None, min_length=8, max_length=256, description="A new password; null keeps it."
    )
    disabled: StrictBool | None = Field(
        default=None, description="Disable or enable the user; null keeps it."
    )


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=256, description="The password now.")
    new_password: str = Field(
        min_length=8, max_length=256, description="The new password, 8 characters or more."
    )


class LoginIn(BaseModel):
    name: str = Field(max_length=64, description="The user's name.")
    password: str = Field(max_length=256, description="The user's password.")


class TokenCreate(BaseModel):
    name: str = Field(
        default="", max_length=128, description="A label, e.g. the machine that uses it."
    )
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Lifetime in days; null for the configured default.",
    )
    user: str | None = Field(
        default=None, description="Admins may create a token for another user."
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The token's id.")
    user: str = Field(description="The user it acts as.")
    name: str = Field(description="Its label.")
    prefix: str = Field(description="The first characters of the secret, to recognise it.")
    created_at: dt.datetime = Field(description="When it was made (UTC).")
    expires_at: dt.datetime | None = Field(description="When it stops working (UTC); null: never.")
    revoked_at: dt.datetime | None = Field(
        description="When it was revoked (UTC); null while valid."
    )
    last_used_at: dt.datetime | None = Field(description="When it was last used (UTC), roughly.")


class TokenCreated(TokenOut):
    token: str = Field(description="The secret; shown once, store it now.")
