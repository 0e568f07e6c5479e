"""Admin pages: users (add, change role, disable or enable) and API tokens (create for a user,
revoke after a confirmation).

Only admins reach them: the pages answer 403 to anyone else, and every form goes through
``FormAdmin``, so the server refuses a write whatever a page showed. A new token's secret is
shown once, in the answer to the form that made it (``Cache-Control: no-store``), never in a
URL or a redirect.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Principal, Role, UserCreate, UserOut, UserUpdate
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import ProblemError
from modelyard.web._render import SECURITY_HEADERS, render
from modelyard.web._session import FormAdmin, PageError, PageUser

router = APIRouter()


def _require_admin(user: Principal) -> None:
    if not user.can(Role.admin):
        raise PageError(403, "Forbidden", f"This needs the admin role; you are {user.role.value}.")


def _page(
    request: Request,
    user: Principal,
    session: Session,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    created_token: Any = None,
    status_code: int = 200,
) -> Response:
    users = [UserOut.model_validate(u) for u in auth_service.list_users(session)]
    tokens = auth_service.list_tokens(session, user, all_users=True)
    context = {
        "users": users,
        "tokens": [t for t in tokens if t.revoked_at is None],
        "roles": [r.value for r in Role],
        "values": values or {"name": "", "role": "viewer"},
        "errors": errors or {},
        "created_token": created_token,
    }
    return render(request, "admin/users.html", context, user=user, status_code=status_code)


@router.get("/admin/users")
def users_page(request: Request, user: PageUser, session: DbSession) -> Response:
    """List users and their API tokens (admins)."""
    _require_admin(user)
    return _page(request, user, session)


def _done(notice: str) -> Response:
    return RedirectResponse(
        f"/admin/users?done={notice}", status_code=303, headers=SECURITY_HEADERS
    )


@router.post("/admin/users")
def add_user(
    request: Request,
    user: FormAdmin,
    session: DbSession,
    name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=16)] = "viewer",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Add a user (errors come back beside their fields, the name and role kept)."""
    values = {"name": name.strip(), "role": role}
    errors: dict[str, str] = {}
    try:
        data = UserCreate(name=values["name"], role=Role(role), password=password or None)
        auth_service.create_user(session, data, actor=user.name)
    except ValueError as exc:  # ValidationError, or an unknown role
        if isinstance(exc, ValidationError):
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "name"
                errors.setdefault(field, str(err["msg"]))
        else:
            errors["role"] = "Choose viewer, editor or admin."
    except ProblemError as exc:
        session.rollback()
        errors["name"] = exc.detail or "Refused."
    if errors:
        return _page(request, user, session, values=values, errors=errors, status_code=422)
    return _done("created")


@router.post("/admin/users/{name}")
def change_user(
    name: str,
    user: FormAdmin,
    session: DbSession,
    role: Annotated[str, Form(max_length=16)] = "",
    disabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Change a user's role, or disable or enable them."""
    try:
        data = UserUpdate(
            role=Role(role) if role else None,
            disabled={"yes": True, "no": False}.get(disabled),
        )
    except ValueError as exc:
        raise PageError(400, "Invalid input", "Choose viewer, editor or admin.") from exc
    auth_service.update_user(session, name, data, actor=user.name)
    return _done("saved")


@router.post("/admin/tokens")
def add_token(
    request: Request,
    user: FormAdmin,
    session: DbSession,
    settings: AppSettings,
    owner: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> Response:
    """Create an API token for a user; the answer shows its secret once."""
    account = auth_service.get_user(session, owner or user.name)
    lifetime = dt.timedelta(days=days or settings.auth.token_days)
    created = auth_service.create_token(
        session, account, name=name.strip(), lifetime=lifetime, actor=user.name
    )
    return _page(request, user, session, created_token=created)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int,
    user: FormAdmin,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Revoke an API token, once confirmed."""
    if confirm != "yes":
        raise PageError(400, "Not confirmed", "Revoking a token needs its confirmation.")
    auth_service.revoke_token(session, token_id, user)
    return _done("saved")
