"""Login, users and API tokens."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response

from modelyard.auth import service
from modelyard.auth.deps import Admin, Viewer
from modelyard.auth.schemas import (
    LoginIn,
    PasswordChange,
    Role,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import Forbidden
from modelyard.kit.openapi import problems
from modelyard.kit.security import client_address

router = APIRouter()


@router.post("/auth/login", response_model=UserOut, responses=problems(401, 429), tags=["auth"])
def login(
    data: LoginIn, request: Request, response: Response, session: DbSession, settings: AppSettings
) -> UserOut:
    """Log in with a password and receive a session cookie."""
    address = client_address(
        request.client.host if request.client else "",
        request.headers.get("x-forwarded-for"),
        settings.auth.trusted_proxies,
    )
    user = service.log_in(session, settings.auth, data.name, data.password, address)
    lifetime = dt.timedelta(hours=settings.auth.session_hours)
    created = service.create_token(
        session, user, lifetime=lifetime, kind="session", actor=user.name
    )
    response.set_cookie(
        settings.auth.cookie_name,
        created.token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.auth.cookie_secure or request.url.scheme == "https",
    )
    return UserOut.model_validate(user)


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """End the browser session."""
    secret = request.cookies.get(settings.auth.cookie_name)
    if secret:
        service.end_session(session, secret)
    response = Response(status_code=204)
    response.delete_cookie(
        settings.auth.cookie_name,
        httponly=True,
        samesite="lax",
        secure=settings.auth.cookie_secure or request.url.scheme == "https",
    )
    return response


@router.get("/users/me", response_model=UserOut, tags=["users"])
def me(principal: Viewer, session: DbSession) -> UserOut:
    """Show the calling user."""
    return UserOut.model_validate(service.get_user(session, principal.name))


@router.patch("/users/me", response_model=UserOut, tags=["users"])
def change_my_password(data: PasswordChange, principal: Viewer, session: DbSession) -> UserOut:
    """Change your own password (the current one is required)."""
    return UserOut.model_validate(
        service.change_own_password(
            session, principal.name, data.current_password, data.new_password
        )
    )


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(_: Admin, session: DbSession) -> list[UserOut]:
    """List users."""
    return [UserOut.model_validate(u) for u in service.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(data: UserCreate, principal: Admin, session: DbSession) -> UserOut:
    """Create a user."""
    return UserOut.model_validate(service.create_user(session, data, actor=principal.name))


@router.get("/users/{name}", response_model=UserOut, tags=["users"])
def get_user(name: str, _: Admin, session: DbSession) -> UserOut:
    """Show a user."""
    return UserOut.model_validate(service.get_user(session, name))


@router.patch("/users/{name}", response_model=UserOut, tags=["users"])
def update_user(name: str, data: UserUpdate, principal: Admin, session: DbSession) -> UserOut:
    """Change a user's role, password or disabled flag."""
    return UserOut.model_validate(service.update_user(session, name, data, actor=principal.name))


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(principal: Viewer, session: DbSession, all: bool = False) -> list[TokenOut]:
    """List your API tokens (admins: every user's with `all=true`)."""
    return service.list_tokens(session, principal, all_users=all)


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token(
    data: TokenCreate, principal: Viewer, session: DbSession, settings: AppSettings
) -> TokenCreated:
    """Create an API token; the secret is shown once."""
    owner_name = data.user or principal.name
    if owner_name != principal.name and not principal.can(Role.admin):
        raise Forbidden("Only an admin may create a token for another user.")
    owner = service.get_user(session, owner_name)
    days = data.expires_in_days or settings.auth.token_days
    return service.create_token(
        session, owner, name=data.name, lifetime=dt.timedelta(days=days), actor=principal.name
    )


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"])
def revoke_token(token_id: int, principal: Viewer, session: DbSession) -> TokenOut:
    """Revoke an API token."""
    return service.revoke_token(session, token_id, principal)
