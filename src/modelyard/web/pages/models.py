"""Model pages: the searchable list, a model with its versions, aliases and tags, a version.

Reads are a fixed handful of batched queries through ``registry.service`` whatever the page
size. Editors get forms to move aliases and set tags; the same handlers refuse a viewer's
POST (403) whether or not the page showed the form.
"""

from __future__ import annotations

import contextlib
import json
import re
import tarfile
import zipfile
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Principal, Role
from modelyard.datasets import service as datasets_service
from modelyard.evaluations import metrics as metric_rules
from modelyard.evaluations import service as evaluations_service
from modelyard.evaluations.schemas import EvaluationCreate, EvaluationCreated
from modelyard.flavors import KNOWN_FLAVORS
from modelyard.jobs.schemas import PRIORITY_LEVELS
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import ProblemError
from modelyard.kit.refs import MAX_ID, MAX_VERSION, ascii_int
from modelyard.registry import service as registry
from modelyard.registry.schemas import (
    ALIAS_PATTERN,
    MODEL_NAME_PATTERN,
    TAG_KEY_PATTERN,
    ArtifactOut,
    AuditOut,
    ModelUpdate,
    SortKey,
    VersionOut,
    VersionUpdate,
)
from modelyard.serving import prediction_log
from modelyard.web._pager import pager
from modelyard.web._render import SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import FormEditor, PageError, PageUser

router = APIRouter()

PAGE_SIZE = 25
VERSIONS_PER_PAGE = 50
HISTORY_ENTRIES = 10
LINEAGE_DEPTH = 8
SORTS: dict[SortKey, str] = {
    "name": "Name A-Z",
    "-updated_at": "Recently updated",
    "-created_at": "Newest",
    "created_at": "Oldest",
}

ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN)]


def _list_context(
    session: Session,
    *,
    q: str,
    tag: str,
    flavor: str,
    sort: str,
    cursor: str | None,
    back: str = "",
) -> dict[str, Any]:
    tags = [t.strip() for t in tag.split(",") if t.strip()]
    page = registry.search_models(
        session,
        q=q or None,
        tags=tags,
        flavor=flavor or None,
        sort=next((key for key in SORTS if key == sort), "name"),
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    filters = {k: v for k, v in {"q": q, "tag": tag, "flavor": flavor}.items() if v}
    if sort != "name":
        filters["sort"] = sort
    return {
        "models": page.items,
        "q": q,
        "tag": tag,
        "flavor": flavor,
        "sort": sort,
        "sorts": SORTS,
        "flavors": sorted(KNOWN_FLAVORS),
        "filtered": bool(filters),
        **pager("/models", filters, cursor=cursor, back=back, next_cursor=page.next_cursor),
    }


@router.get("/models")
def model_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    q: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=500)] = "",
    flavor: Annotated[str, Query(max_length=32)] = "",
    sort: Annotated[str, Query(max_length=16)] = "name",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
) -> Response:
    """List models, filtered by name, tags and flavor."""
    if sort not in SORTS:
        sort = "name"
    context = _list_context(
        session, q=q.strip(), tag=tag, flavor=flavor, sort=sort, cursor=cursor or None, back=back
    )
    template = "models/_results.html" if is_htmx(request) else "models/list.html"
    return render(request, template, context, user=user)


def _history(session: Session, name: str) -> list[AuditOut]:
    """The model's latest audit entries (editors and admins see them, as in the API)."""
    return registry.list_audit(
        session,
        actor=None,
        object_type="model",
        object_key=name,
        limit=HISTORY_ENTRIES,
        cursor=None,
    ).items


def _metric_names(versions: list[VersionOut]) -> list[str]:
    """The metrics worth a column in the versions table: the first few by name."""
    return sorted({k for v in versions for k in v.metrics})[:4]


TREND_EVALUATIONS = 200
DATASET_CHOICES = 200


def _trend(session: Session, name: str, metric: str, dataset: str) -> dict[str, Any]:
    """The metric-trend section: which metrics the model's evaluations have, and the chosen
    one across versions with one series per dataset (``trend_chart`` feeds uPlot)."""
    recent = evaluations_service.list_evaluations(
        session,
        model=name,
        version=None,
        dataset=None,
        status="succeeded",
        limit=TREND_EVALUATIONS,
        cursor=None,
    ).items
    names = {k for e in recent for k, v in e.metrics.items() if isinstance(v, int | float)}
    datasets = sorted({e.dataset.name for e in recent})
    metrics = sorted(names)
    if metric not in names:
        headline = [m for e in recent for m in metric_rules.HEADLINE.get(e.task, ())]
        metric = next((m for m in headline if m in names), metrics[0] if metrics else "")
    if dataset not in datasets:
        dataset = ""
    context: dict[str, Any] = {
        "trend_metrics": metrics,
        "trend_datasets": datasets,
        "trend_metric": metric,
        "trend_dataset": dataset,
        "trend": None,
        "trend_chart": None,
    }
    if not metric:
        return context
    trend = evaluations_service.trend(session, name, metric, None)
    points = [p for p in trend.points if not dataset or p.dataset.name == dataset]
    versions = sorted({p.version for p in points})
    series = sorted({p.dataset.name for p in points})
    values = {(p.version, p.dataset.name): p.value for p in points}
    context["trend"] = trend.model_copy(update={"points": points})
    context["trend_chart"] = {
        "metric": metric,
        "direction": trend.direction,
        "versions": versions,
        "series": [{"name": s, "values": [values.get((v, s)) for v in versions]} for s in series],
    }
    return context


def _evaluation_choices(session: Session) -> dict[str, Any]:
    """What the editor's evaluation form offers: datasets and their column names."""
    datasets = datasets_service.list_datasets(
        session, q=None, limit=DATASET_CHOICES, cursor=None
    ).items
    targets = {d.id: _likely_target([c.name for c in d.columns]) for d in datasets}
    return {"eval_datasets": datasets, "eval_targets": targets, "priorities": PRIORITY_LEVELS}


TARGET_NAMES = ("target", "y", "label", "actual", "observed", "smax", "s_max")


def _likely_target(columns: list[str]) -> str:
    """The column a dataset most likely holds true values in: a usual name, else the last."""
    by_lower = {c.lower(): c for c in columns}
    for name in TARGET_NAMES:
        if name in by_lower:
            return by_lower[name]
    return columns[-1] if columns else ""


def _lineage(session: Session, parent: str | None) -> list[VersionOut]:
    """Ancestors of a version, nearest first, up to LINEAGE_DEPTH (one lookup each)."""
    chain: list[VersionOut] = []
    seen: set[str] = set()
    while parent and parent not in seen and len(chain) < LINEAGE_DEPTH:
        seen.add(parent)
        name, _, number = parent.rpartition("/")
        try:
            row = registry.get_version(session, name, int(number))
        except ProblemError:
            break
        chain.append(row)
        parent = row.parent
    return chain


@router.get("/models/{name}")
def model_page(
    request: Request,
    name: ModelName,
    user: PageUser,
    session: DbSession,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
    metric: Annotated[str, Query(max_length=64)] = "",
    dataset: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Show a model: aliases, tags, versions with lineage and metrics, recent changes."""
    context = _model_context(session, name, user, cursor, back, metric, dataset)
    return render(request, "models/detail.html", context, user=user)


def _model_context(
    session: Session,
    name: str,
    user: Principal,
    cursor: str | None = None,
    back: str = "",
    metric: str = "",
    dataset: str = "",
) -> dict[str, Any]:
    model = registry.get_model(session, name)
    page = registry.list_versions(session, name, limit=VERSIONS_PER_PAGE, cursor=cursor or None)
    versions = page.items
    history = _history(session, name) if user.can(Role.editor) else []
    return {
        "model": model,
        "versions": versions,
        **pager(
            f"/models/{quote(name)}", {}, cursor=cursor, back=back, next_cursor=page.next_cursor
        ),
        "history": history,
        "metric_names": _metric_names(versions),
        **_trend(session, name, metric, dataset),
        **(_evaluation_choices(session) if user.can(Role.editor) else {}),
        "eval_values": {},
        "eval_error": "",
        "prediction_log": prediction_log.setting(session, name),
        "delete_typed": "",
        "delete_error": "",
    }


@router.get("/models/{name}/trend")
def trend_section(
    request: Request,
    name: ModelName,
    user: PageUser,
    session: DbSession,
    metric: Annotated[str, Query(max_length=64)] = "",
    dataset: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The metric-trend section alone (what the metric picker swaps in)."""
    if not is_htmx(request):
        query = urlencode({k: v for k, v in {"metric": metric, "dataset": dataset}.items() if v})
        target = f"/models/{quote(name)}" + (f"?{query}" if query else "") + "#trend"
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    registry.get_model(session, name)
    context = {"model": {"name": name}, **_trend(session, name, metric, dataset)}
    return render(request, "models/_trend.html", context, user=user)


@router.post("/models/{name}/evaluations")
def start_evaluation(
    request: Request,
    name: ModelName,
    user: FormEditor,
    session: DbSession,
    version: Annotated[str, Form(max_length=12)] = "",
    dataset: Annotated[str, Form(max_length=20)] = "",
    target: Annotated[str, Form(max_length=300)] = "",
    priority: Annotated[str, Form(max_length=16)] = "normal",
) -> Response:
    """Evaluate a version on a dataset as a job, then follow the job live."""
    values = {"version": version, "dataset": dataset, "target": target, "priority": priority}
    try:
        out = _submit_evaluation(request, session, name, user, values)
    except (PageError, ProblemError) as exc:
        if exc.status_code >= 500:
            raise
        session.rollback()
        return _refused_evaluation(request, session, name, user, values, exc)
    url = f"/jobs/{out.job_id}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url, **SECURITY_HEADERS})
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _submit_evaluation(
    request: Request, session: Session, name: str, user: Principal, values: dict[str, str]
) -> EvaluationCreated:
    version_number = ascii_int(values["version"].strip())
    dataset_id = ascii_int(values["dataset"].strip())
    if version_number is None or not 1 <= version_number <= MAX_VERSION:
        raise PageError(400, "Invalid input", "Choose the version to evaluate.")
    if dataset_id is None or not 1 <= dataset_id <= MAX_ID:
        raise PageError(400, "Invalid input", "Choose the dataset to evaluate on.")
    if not values["target"].strip():
        raise PageError(400, "Invalid input", "Name the dataset column that holds the true values.")
    if values["priority"] not in PRIORITY_LEVELS:
        raise PageError(400, "Invalid input", "Choose a priority: low, normal, high or urgent.")
    data = EvaluationCreate(
        model=f"{name}/{version_number}",
        dataset=dataset_id,
        target=values["target"].strip(),
        priority=values["priority"],
    )
    return evaluations_service.submit(
        session,
        data,
        user,
        artifacts=request.app.state.artifacts,
        jobs=request.app.state.jobs,
    )


def _refused_evaluation(
    request: Request,
    session: Session,
    name: str,
    user: Principal,
    values: dict[str, str],
    exc: PageError | ProblemError,
) -> Response:
    """The refusal inside the evaluation form, the choices kept: htmx swaps just the form's
    message; a plain POST gets the model page again with the form open."""
    if is_htmx(request):
        return render(
            request,
            "models/_evaluate_error.html",
            {"eval_error": exc.detail},
            user=user,
            status_code=exc.status_code,
            headers={"HX-Retarget": "#evaluate-error", "HX-Reswap": "outerHTML"},
        )
    context = _model_context(session, name, user)
    context["eval_values"] = values
    context["eval_error"] = exc.detail
    return render(request, "models/detail.html", context, user=user, status_code=exc.status_code)


PREVIEW_BYTES = 64 * 1024
TEXT_SUFFIXES = {".json", ".txt", ".csv", ".md", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".py"}
ARCHIVE_MEMBERS = 200


def _artifact_preview(request: Request, artifact: ArtifactOut | None) -> dict[str, Any] | None:
    """What the version page shows of an artifact: the start of a text file (JSON indented),
    or the member list of a zip or tar archive (read, never extracted)."""
    if not artifact:
        return None
    filename = artifact.filename or ""
    suffix = PurePosixPath(filename.lower()).suffix
    try:
        path = request.app.state.artifacts.open(artifact.sha256)
    except (ProblemError, AttributeError, OSError):
        return None
    try:
        if suffix in TEXT_SUFFIXES:
            with open(path, "rb") as handle:
                raw = handle.read(PREVIEW_BYTES + 1)
            text = raw[:PREVIEW_BYTES].decode("utf-8", "replace")
            if suffix == ".json" and len(raw) <= PREVIEW_BYTES:
                with contextlib.suppress(ValueError):
                    text = json.dumps(json.loads(text), indent=2, sort_keys=True)
            return {"kind": "text", "text": text, "cut": len(raw) > PREVIEW_BYTES}
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
                members = [(i.filename, i.file_size) for i in infos[:ARCHIVE_MEMBERS]]
            return {"kind": "archive", "members": members, "more": len(infos) - len(members)}
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                names: list[tuple[str, int]] = []
                for member in archive:
                    if len(names) >= ARCHIVE_MEMBERS:
                        break
                    names.append((member.name, member.size))
            return {"kind": "archive", "members": names, "more": 0}
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError):
        return None
    return None


@router.get("/models/{name}/versions/{version}")
def version_page(
    request: Request,
    name: ModelName,
    version: Annotated[int, Path(ge=1, le=999_999_999)],
    user: PageUser,
    session: DbSession,
) -> Response:
    """Show a version: parameters, metrics, tags, artifact and the versions it derives from."""
    row = registry.get_version(session, name, version)
    return render(
        request,
        "models/version.html",
        {
            "version": row,
            "lineage": _lineage(session, row.parent),
            "promote_to": list(PROMOTE_TO),
            "model_aliases": sorted(registry.get_model(session, name).aliases),
            "preview": _artifact_preview(request, row.artifact),
        },
        user=user,
    )


def _after_change(
    request: Request, session: Session, name: str, user: Principal, message: str
) -> Response:
    """htmx: the re-rendered panel plus a message; a plain form: back to the model page."""
    if not is_htmx(request):
        return RedirectResponse(f"/models/{name}", status_code=303, headers=SECURITY_HEADERS)
    versions = registry.list_versions(session, name, limit=VERSIONS_PER_PAGE, cursor=None).items
    context = {
        "model": registry.get_model(session, name),
        "versions": versions,
        "metric_names": _metric_names(versions),
        "message": message,
        "history": _history(session, name),
        "oob_history": True,
    }
    return render(request, "models/_panel.html", context, user=user)


def _check(pattern: str, value: str, what: str) -> str:
    value = value.strip()
    if not re.fullmatch(pattern, value):
        raise PageError(400, "Invalid input", what)
    return value


@router.post("/models/{name}/aliases")
def set_alias(
    request: Request,
    name: ModelName,
    user: FormEditor,
    session: DbSession,
    alias: Annotated[str, Form(max_length=64)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Point an alias at a version (creating or moving it)."""
    alias = _check(
        ALIAS_PATTERN, alias, "An alias starts with a letter, then letters, digits, _ or -."
    )
    number = ascii_int(version.strip())
    if number is None or not 1 <= number <= MAX_VERSION:
        raise PageError(400, "Invalid input", "Choose the version number the alias points at.")
    registry.set_alias(
        session, name, alias, number, actor=user.name, as_admin=user.role is Role.admin
    )
    return _after_change(request, session, name, user, f"Alias {alias} now points at v{version}.")


@router.post("/models/{name}/aliases/{alias}/delete")
def delete_alias(
    request: Request,
    name: ModelName,
    alias: Annotated[str, Path(pattern=ALIAS_PATTERN)],
    user: FormEditor,
    session: DbSession,
) -> Response:
    """Remove an alias."""
    registry.delete_alias(session, name, alias, actor=user.name, as_admin=user.role is Role.admin)
    return _after_change(request, session, name, user, f"Alias {alias} removed.")


@router.post("/models/{name}/tags")
def set_tag(
    request: Request,
    name: ModelName,
    user: FormEditor,
    session: DbSession,
    key: Annotated[str, Form(max_length=128)] = "",
    value: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Set a tag on a model."""
    key = _check(
        TAG_KEY_PATTERN, key, "A tag key is 1-128 letters, digits or _ . : / - (no spaces)."
    )
    registry.set_model_tag(
        session, name, key, value.strip(), actor=user.name, as_admin=user.role is Role.admin
    )
    return _after_change(request, session, name, user, f"Tag {key} set.")


@router.post("/models/{name}/tags/delete")
def delete_tag(
    request: Request,
    name: ModelName,
    user: FormEditor,
    session: DbSession,
    key: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Remove a tag from a model (the key is a form field: keys may contain a slash)."""
    key = _check(TAG_KEY_PATTERN, key, "Name the tag to remove.")
    registry.delete_model_tag(session, name, key, actor=user.name, as_admin=user.role is Role.admin)
    return _after_change(request, session, name, user, f"Tag {key} removed.")


# --- description, promotion and deletion ---------------------------------------------------

PROMOTE_TO = ("production", "staging")
"""Aliases a version page offers to move in one click, besides the model's own."""


def _done(url: str, notice: str) -> Response:
    return RedirectResponse(f"{url}?done={notice}", status_code=303, headers=SECURITY_HEADERS)


@router.post("/models/{name}/description")
def edit_description(
    name: ModelName,
    user: FormEditor,
    session: DbSession,
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Replace a model's description (Markdown)."""
    registry.update_model(
        session,
        name,
        ModelUpdate(description=description),
        actor=user.name,
        as_admin=user.role is Role.admin,
    )
    return _done(f"/models/{quote(name)}", "saved")


@router.post("/models/{name}/versions/{version}/description")
def edit_version_description(
    name: ModelName,
    version: Annotated[int, Path(ge=1, le=999_999_999)],
    user: FormEditor,
    session: DbSession,
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Replace a version's description (Markdown)."""
    registry.update_version(
        session, name, str(version), VersionUpdate(description=description), actor=user.name
    )
    return _done(f"/models/{quote(name)}/versions/{version}", "saved")


@router.post("/models/{name}/versions/{version}/promote")
def promote(
    name: ModelName,
    version: Annotated[int, Path(ge=1, le=999_999_999)],
    user: FormEditor,
    session: DbSession,
    alias: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Point an alias at this version (protected aliases refuse as in the API)."""
    alias = _check(
        ALIAS_PATTERN, alias, "An alias starts with a letter, then letters, digits, _ or -."
    )
    registry.set_alias(
        session, name, alias, version, actor=user.name, as_admin=user.role is Role.admin
    )
    return _done(f"/models/{quote(name)}/versions/{version}", "promoted")


@router.post("/models/{name}/versions/{version}/delete")
def delete_version(
    name: ModelName,
    version: Annotated[int, Path(ge=1, le=999_999_999)],
    user: FormEditor,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Delete a version and the aliases on it, once confirmed (audited)."""
    if confirm != "yes":
        raise PageError(400, "Not confirmed", "Deleting a version needs its confirmation.")
    registry.delete_version(
        session, name, str(version), actor=user.name, as_admin=user.role is Role.admin
    )
    return _done(f"/models/{quote(name)}", "deleted")


@router.post("/models/{name}/prediction-log")
def switch_prediction_log(
    name: ModelName,
    user: FormEditor,
    session: DbSession,
    enabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Switch the logging of a model's predict requests to datasets on or off (audited)."""
    if enabled not in ("on", "off"):
        raise PageError(400, "Invalid input", "Choose to switch the logging on or off.")
    prediction_log.set_enabled(
        session, name, enabled == "on", actor=user.name, as_admin=user.role is Role.admin
    )
    return _done(f"/models/{quote(name)}", "logging" if enabled == "on" else "not-logging")


@router.post("/models/{name}/delete")
def delete_model(
    request: Request,
    name: ModelName,
    user: FormEditor,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Delete a model with every version, once its name was typed to confirm (audited)."""
    if confirm.strip() != name:
        # the model page again, the confirmation open with what was typed and why it is not it
        context = _model_context(session, name, user)
        context["delete_typed"] = confirm
        context["delete_error"] = f"Type the model's name, {name}, to confirm deleting it."
        return render(request, "models/detail.html", context, user=user, status_code=400)
    registry.delete_model(session, name, actor=user.name, as_admin=user.role is Role.admin)
    return _done("/models", "deleted")
