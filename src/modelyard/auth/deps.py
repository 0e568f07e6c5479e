"""Authentication and role dependencies: ``Viewer``, ``Editor`` and ``Admin`` aliases.

A request authenticates with ``Authorization: Bearer <token>`` or, from the web UI, the
session cookie. Every endpoint declares the least role it needs through one of the aliases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from modelyard.auth.schemas import Principal, Role
from modelyard.auth.service import resolve_secret
from modelyard.kit.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API token from `modelyard token create`.")
_cookie = APIKeyCookie(name="modelyard_session", auto_error=False, description="Web UI session.")


def authenticate_request(request: Request, bearer: str | None, cookie: str | None) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if not bearer and not cookie:
        raise Unauthorized(
            "No credentials; send `Authorization: Bearer <token>` or log in at /login."
        )
    with request.app.state.db.engine.connect() as conn:
        principal = (
            resolve_secret(conn, bearer, kind="api")
            if bearer
            else resolve_secret(conn, cookie or "", kind="session")
        )
    request.state.principal = principal
    return principal


def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    return authenticate_request(request, bearer.credentials if bearer else None, cookie)


def require(role: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.can(role):
            raise Forbidden(
                f"This needs the {role.value} role; user '{principal.name}' is {principal.role.value}."
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Editor = Annotated[Principal, Depends(require(Role.editor))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
