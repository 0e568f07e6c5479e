"""Users and API tokens."""

from __future__ import annotations

import builtins
from typing import Literal

from modelyard.auth.schemas import (
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from modelyard.client._async._http import AsyncHttp
from modelyard.client._refs import segment

RoleName = Literal["admin", "editor", "viewer"]


class AsyncUsers:
    """``client.users``: who the token belongs to; accounts (admins)."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def me(self) -> UserOut:
        return await self._http.call(UserOut, "GET", "/api/users/me")

    async def change_my_password(self, current_password: str, new_password: str) -> UserOut:
        body = PasswordChange(current_password=current_password, new_password=new_password)
        return await self._http.call(UserOut, "PATCH", "/api/users/me", json=body.model_dump())

    async def list(self) -> builtins.list[UserOut]:
        return await self._http.call_list(UserOut, "GET", "/api/users")

    async def get(self, name: str) -> UserOut:
        return await self._http.call(UserOut, "GET", f"/api/users/{segment(name)}")

    async def create(
        self, name: str, *, role: RoleName = "viewer", password: str | None = None
    ) -> UserOut:
        body = UserCreate.model_validate({"name": name, "role": role, "password": password})
        return await self._http.call(
            UserOut, "POST", "/api/users", json=body.model_dump(mode="json", exclude_none=True)
        )

    async def update(
        self,
        name: str,
        *,
        role: RoleName | None = None,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> UserOut:
        body = UserUpdate.model_validate({"role": role, "password": password, "disabled": disabled})
        return await self._http.call(
            UserOut,
            "PATCH",
            f"/api/users/{segment(name)}",
            json=body.model_dump(mode="json", exclude_none=True),
        )


class AsyncTokens:
    """``client.tokens``: API tokens (your own; admins: anyone's)."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def list(self, *, all_users: bool = False) -> builtins.list[TokenOut]:
        return await self._http.call_list(TokenOut, "GET", "/api/tokens", params={"all": all_users})

    async def create(
        self, name: str = "", *, expires_in_days: int | None = None, user: str | None = None
    ) -> TokenCreated:
        """A new token; its secret is in ``.token``, shown this once."""
        body = TokenCreate(name=name, expires_in_days=expires_in_days, user=user)
        return await self._http.call(
            TokenCreated, "POST", "/api/tokens", json=body.model_dump(exclude_none=True)
        )

    async def revoke(self, token_id: int) -> TokenOut:
        return await self._http.call(TokenOut, "DELETE", f"/api/tokens/{int(token_id)}")
