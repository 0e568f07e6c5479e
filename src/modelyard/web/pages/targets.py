"""Target pages: the live systems deployments are measured against.

The list shows each target's kind, state and last sample; editors add a target (its kind's
configuration as JSON, checked by the same schemas as the API's), start it, and stop it after
a confirmation (the form carries ``confirm``, which the server requires).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Role
from modelyard.kit.db import after_commit
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import ProblemError
from modelyard.monitoring.deps import poke_live
from modelyard.targets import service as targets_service
from modelyard.targets.schemas import CONFIG_MODELS, TargetCreate
from modelyard.web._render import SECURITY_HEADERS, render
from modelyard.web._session import FormEditor, PageError, PageUser

router = APIRouter()

TargetRef = Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
KINDS = list(CONFIG_MODELS)
_CREATE = TypeAdapter(TargetCreate)


def _done(url: str, notice: str) -> Response:
    return RedirectResponse(f"{url}?done={notice}", status_code=303, headers=SECURITY_HEADERS)


@router.get("/targets")
def target_list(request: Request, user: PageUser, session: DbSession) -> Response:
    """List targets with their state and last sample."""
    targets = targets_service.list_targets(session).items
    return render(request, "targets/list.html", {"targets": targets}, user=user)


def _form(request: Request, user: Any, values: dict[str, Any], errors: dict[str, str]) -> Response:
    context = {"values": values, "kinds": KINDS, "errors": errors}
    return render(
        request, "targets/new.html", context, user=user, status_code=422 if errors else 200
    )


@router.get("/targets/new")
def new_target_page(request: Request, user: PageUser) -> Response:
    """Show the form that adds a target."""
    if not user.can(Role.editor):
        raise PageError(403, "Forbidden", f"This needs the editor role; you are {user.role.value}.")
    values = {"name": "", "kind": "push", "interval_seconds": "1", "config": "{}", "start": True}
    return _form(request, user, values, {})


@router.post("/targets/new")
def create_target(
    request: Request,
    user: FormEditor,
    session: DbSession,
    name: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=40)] = "push",
    interval_seconds: Annotated[str, Form(max_length=20)] = "1",
    config: Annotated[str, Form(max_length=100_000)] = "{}",
    start: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Add a target, then list targets (errors come back beside their fields)."""
    values = {
        "name": name.strip(),
        "kind": kind,
        "interval_seconds": interval_seconds,
        "config": config,
        "start": bool(start),
    }
    errors: dict[str, str] = {}
    try:
        parsed_config = json.loads(config or "{}")
    except json.JSONDecodeError as exc:
        errors["config"] = f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        return _form(request, user, values, errors)
    try:
        data = _CREATE.validate_python(
            {
                "name": values["name"],
                "kind": kind,
                "interval_seconds": interval_seconds,
                "config": parsed_config,
                "start": bool(start),
            }
        )
        targets_service.create_target(session, data, actor=user.name)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            # a union's errors name the kind first: kind, field, ...
            field = next((p for p in loc if p in values), "config")
            errors.setdefault(field, f"{'.'.join(loc[1:]) or field}: {err['msg']}")
        return _form(request, user, values, errors)
    except ProblemError as exc:
        session.rollback()
        return _form(request, user, values, {"name": exc.detail or "Refused."})
    after_commit(session, lambda: poke_live(request))
    return _done("/targets", "created")


@router.post("/targets/{ref}/start")
def start(ref: TargetRef, user: FormEditor, session: DbSession, request: Request) -> Response:
    """Follow a target again."""
    targets_service.set_desired_state(
        session, ref, "running", actor=user.name, as_admin=user.role is Role.admin
    )
    after_commit(session, lambda: poke_live(request))
    return _done("/targets", "target-started")


@router.post("/targets/{ref}/stop")
def stop(
    ref: TargetRef,
    user: FormEditor,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Stop following a target, once the form says it was confirmed."""
    if confirm != "yes":
        raise PageError(400, "Not confirmed", "Stopping a target needs its confirmation.")
    targets_service.set_desired_state(
        session, ref, "stopped", actor=user.name, as_admin=user.role is Role.admin
    )
    return _done("/targets", "target-stopped")
