"""Forms that add to the registry: a new model, and a new version of a model (parameters as
JSON, an optional artifact file).

The forms are editor-only twice over: a viewer's page shows no link to them and the handlers
refuse a viewer (403) before reading an upload. A field that fails the server's checks comes
back in the re-rendered form, next to the field it concerns (``aria-invalid`` and
``aria-describedby`` on the input), with the rest of what was typed kept. With htmx the form
posts in place and a success redirects the browser (``HX-Redirect``); without JavaScript it
is a plain POST answered by a 303 or the re-rendered page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from modelyard import flavors
from modelyard.auth.schemas import Principal, Role
from modelyard.kit.body_limit import large_body
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import ProblemError
from modelyard.kit.security import plain_filename
from modelyard.registry import service as registry
from modelyard.registry.artifacts import artifact_upload_limit
from modelyard.registry.schemas import MODEL_NAME_PATTERN, ModelCreate, VersionCreate
from modelyard.web._render import SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import (
    FormEditor,
    PageError,
    PageUser,
    check_csrf,
    csrf_token_for,
    page_principal,
    session_secret,
)

router = APIRouter()

ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN)]
FLAVOR_CHOICES = sorted(flavors.KNOWN_FLAVORS)
FieldErrors = dict[str, str]


def _require_editor_page(user: Principal) -> None:
    if not user.can(Role.editor):
        raise PageError(403, "Forbidden", f"This needs the editor role; you are {user.role.value}.")


def _redirect(request: Request, url: str) -> Response:
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url, **SECURITY_HEADERS})
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _form_response(
    request: Request,
    user: Principal,
    template: str,
    context: dict[str, Any],
    errors: FieldErrors,
) -> Response:
    """The form again (htmx: just the form), 422 when it has errors."""
    body = template.replace(".html", "_form.html") if is_htmx(request) else template
    return render(
        request,
        body,
        {**context, "errors": errors},
        user=user,
        status_code=422 if errors else 200,
    )


def _validation_errors(exc: ValidationError) -> FieldErrors:
    errors: FieldErrors = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "form"
        errors.setdefault(field, str(err["msg"]))
    return errors


# --- a new model ---------------------------------------------------------------------------


@router.get("/models/new")
def new_model_page(request: Request, user: PageUser) -> Response:
    """Show the form that registers a model."""
    _require_editor_page(user)
    context = {"values": {"name": "", "description": ""}}
    return _form_response(request, user, "models/new.html", context, {})


@router.post("/models/new")
def create_model(
    request: Request,
    user: FormEditor,
    session: DbSession,
    name: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Register a model, then show it."""
    values = {"name": name.strip(), "description": description}
    context = {"values": values}
    try:
        data = ModelCreate(name=values["name"], description=description.strip())
    except ValidationError as exc:
        errors = _validation_errors(exc)
        if "name" in errors:
            errors["name"] = (
                "A name is 1-200 letters, digits, _ . or -, starting with a letter or digit."
            )
        return _form_response(request, user, "models/new.html", context, errors)
    try:
        registry.create_model(session, data, actor=user.name)
    except ProblemError as exc:
        session.rollback()
        return _form_response(request, user, "models/new.html", context, {"name": exc.detail})
    return _redirect(request, f"/models/{quote(data.name)}")


# --- a new version -------------------------------------------------------------------------


@dataclass
class VersionForm:
    user: Principal
    fields: dict[str, str]
    upload: UploadFile | None


async def _version_form(request: Request, settings: AppSettings) -> VersionForm:
    """An editor's version form. The handler declares no form parameters, so nothing reads
    the body before this: the role and the declared size are checked first, then the form
    is parsed (the file spooled to disk) and its CSRF token checked."""
    user = await run_in_threadpool(page_principal, request)
    _require_editor_page(user)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise PageError(415, "Unsupported form", "Send the version form as multipart/form-data.")
    form = await request.form(max_files=1, max_fields=16, max_part_size=512 * 1024)
    await check_csrf(request, csrf_token_for(session_secret(request) or ""))
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k in VERSION_FIELDS}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        upload = None
    return VersionForm(user, fields, upload)


VERSION_FIELDS = ("flavor", "parameters", "description", "source")


def _version_context(session: Session, name: str, values: dict[str, str]) -> dict[str, Any]:
    return {"model": registry.get_model(session, name), "values": values, "flavors": FLAVOR_CHOICES}


@router.get("/models/{name}/versions/new")
def new_version_page(
    request: Request, name: ModelName, user: PageUser, session: DbSession
) -> Response:
    """Show the form that adds a version to a model."""
    _require_editor_page(user)
    values = {"flavor": "formula", "parameters": "{}", "description": "", "source": ""}
    context = _version_context(session, name, values)
    return _form_response(request, user, "models/new_version.html", context, {})


def _parse_parameters(text: str) -> tuple[dict[str, Any] | None, str | None]:
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
    if not isinstance(value, dict):
        return None, 'The parameters must be a JSON object, e.g. {"kind": "linear"}.'
    return value, None


@router.post("/models/{name}/versions/new")
@large_body(artifact_upload_limit, "MODELYARD_STORAGE__MAX_ARTIFACT_BYTES")
def create_version(
    request: Request,
    name: ModelName,
    form: Annotated[VersionForm, Depends(_version_form)],
    session: DbSession,
    settings: AppSettings,
) -> Response:
    """Add a version (with an artifact if a file is chosen), then show it."""
    user, upload = form.user, form.upload
    values = {key: form.fields.get(key, "") for key in VERSION_FIELDS}
    values["flavor"] = values["flavor"] or "generic"
    flavor, parameters = values["flavor"], values["parameters"]
    description, source = values["description"], values["source"]
    context = _version_context(session, name, values)
    template = "models/new_version.html"
    errors: FieldErrors = {}
    parsed, problem = _parse_parameters(parameters)
    if problem:
        errors["parameters"] = problem
    data: VersionCreate | None = None
    if parsed is not None:
        try:
            data = VersionCreate(
                flavor=flavor.strip(),
                parameters=parsed,
                description=description.strip(),
                source=source.strip(),
            )
        except ValidationError as exc:
            errors.update(_validation_errors(exc))
    if data is not None and not errors:
        try:
            flavors.validate(data.flavor, data.parameters, has_artifact=upload is not None)
        except ProblemError as exc:
            errors["parameters"] = exc.detail
    if errors or data is None:
        return _form_response(request, user, template, context, errors)

    artifact = staged = None
    store = request.app.state.artifacts
    try:
        if upload is not None:
            # Checked while staged, promoted once the version row is written: a refused
            # upload leaves no blob (see registry.artifacts).
            filename = plain_filename(upload.filename)
            try:
                staged = store.stage(
                    upload.file, max_bytes=settings.storage.max_artifact_bytes, filename=filename
                )
                flavors.check_artifact(
                    data.flavor, data.parameters, staged.path, limits=store.archive_limits
                )
            except ProblemError as exc:
                return _form_response(request, user, template, context, {"file": exc.detail})
            artifact = registry.Artifact(staged.sha256, staged.size, filename)
        try:
            row = registry.create_version(session, name, data, artifact, actor=user.name)
        except ProblemError as exc:
            session.rollback()
            return _form_response(request, user, template, context, {"form": exc.detail})
        if staged is not None:
            store.promote(staged)
    finally:
        if staged is not None:
            store.discard(staged)
    return _redirect(request, f"/models/{quote(name)}/versions/{row.version}")
