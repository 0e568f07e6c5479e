"""Deployment pages: the list, a new deployment, and one deployment with live charts.

The page renders the deployment, its last interval, alerts, version switches and tuning
records from ``deployments.service``. ``static/charts.js`` then draws predicted against
actual S_max, throughput, latency and CPU with uPlot from ``GET /api/deployments/{id}/metrics``
and appends each interval of the page's ``deployment:<id>`` channel as it arrives.

Editors create, stop (after a confirmation: the form carries ``confirm``, which the server
requires), restart a deployment and write its run report here; the same service calls as the
API's, refused to viewers by the form dependencies whatever the page showed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Role
from modelyard.deployments import report as deployment_report
from modelyard.deployments import service as deployments_service
from modelyard.deployments.schemas import DeploymentCreate, SaveTuned
from modelyard.kit.db import after_commit
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import ProblemError
from modelyard.monitoring.deps import metric_store, poke_live
from modelyard.registry import service as registry
from modelyard.registry.schemas import ALIAS_PATTERN
from modelyard.targets import service as targets_service
from modelyard.web._render import NAV, SECURITY_HEADERS, render
from modelyard.web._session import FormEditor, PageError, PageUser

router = APIRouter()
NAV.append(("Deployments", "/deployments"))

DeploymentRef = Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
RANGES = {"-15m": "15 min", "-1h": "1 hour", "-6h": "6 hours", "-24h": "24 hours"}
RECENT = 20


@router.get("/deployments")
def deployment_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """List deployments with their serving version and last prediction."""
    if status not in ("", "active", "stopped"):
        status = ""
    items = deployments_service.list_deployments(session, status=status or None).items
    return render(
        request, "deployments/list.html", {"deployments": items, "status": status}, user=user
    )


def _done(url: str, notice: str) -> Response:
    return RedirectResponse(f"{url}?done={notice}", status_code=303, headers=SECURITY_HEADERS)


def _model_refs(session: Any) -> list[str]:
    """``name@alias`` for every alias and ``name/N`` for each model's newest version."""
    refs: list[str] = []
    page = registry.search_models(session, flavor="formula", limit=200)
    for model in page.items:
        refs += [f"{model.name}@{alias}" for alias in sorted(model.aliases)]
        if model.latest_version:
            refs.append(f"{model.name}/{model.latest_version}")
    return refs


def _new_context(session: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "values": values,
        "targets": targets_service.list_targets(session).items,
        "model_refs": _model_refs(session),
    }


@router.get("/deployments/new")
def new_deployment_page(request: Request, user: PageUser, session: DbSession) -> Response:
    """Show the form that deploys a version against a target."""
    if not user.can(Role.editor):
        raise PageError(403, "Forbidden", f"This needs the editor role; you are {user.role.value}.")
    values = {
        "name": "",
        "target": request.query_params.get("target", ""),
        "model": "",
        "auto_tune": False,
    }
    context = {**_new_context(session, values), "errors": {}}
    return render(request, "deployments/new.html", context, user=user)


@router.post("/deployments/new")
def create_deployment(
    request: Request,
    user: FormEditor,
    session: DbSession,
    name: Annotated[str, Form(max_length=300)] = "",
    target: Annotated[str, Form(max_length=300)] = "",
    model: Annotated[str, Form(max_length=300)] = "",
    auto_tune: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Create a deployment, then show it (errors come back beside their fields)."""
    values = {
        "name": name.strip(),
        "target": target,
        "model": model.strip(),
        "auto_tune": bool(auto_tune),
    }
    errors: dict[str, str] = {}
    try:
        data = DeploymentCreate(
            name=values["name"], target=target, model=values["model"], auto_tune=bool(auto_tune)
        )
        created = deployments_service.create_deployment(session, data, actor=user.name)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            errors.setdefault(field, str(err["msg"]))
        if "name" in errors:
            errors["name"] = "A name is letters, digits, _ . or -, starting with a letter or digit."
        if "model" in errors:
            errors["model"] = "Name a version as model/3 or follow an alias as model@production."
    except ProblemError as exc:
        session.rollback()
        detail = exc.detail or "Refused."
        field = "name" if "named" in detail else "target" if "arget" in detail else "model"
        errors[field] = detail
    if errors:
        context = {**_new_context(session, values), "errors": errors}
        return render(request, "deployments/new.html", context, user=user, status_code=422)
    after_commit(session, lambda: poke_live(request))
    return _done(f"/deployments/{created.id}", "created")


@router.get("/deployments/{ref}")
def deployment_page(
    request: Request,
    ref: DeploymentRef,
    user: PageUser,
    session: DbSession,
    settings: AppSettings,
    range_: Annotated[str, Query(alias="range", max_length=8)] = "-15m",
) -> Response:
    """Show a deployment: live charts, last interval, alerts, switches and tuning."""
    if range_ not in RANGES:
        range_ = "-15m"
    row = deployments_service.get_deployment(session, ref)
    deployment = deployments_service.deployment_out(session, row)
    alerts = deployments_service.list_alerts(session, row.id)
    open_alerts = [a for a in alerts if a.resolved_at is None]
    context: dict[str, Any] = {
        "deployment": deployment,
        "last": deployment.state.get("last") or {},
        "open_alerts": open_alerts,
        "recent_alerts": [a for a in reversed(alerts) if a.resolved_at is not None][:RECENT],
        "switches": deployments_service.list_switches(session, row.id)[-RECENT:][::-1],
        "tuning": deployments_service.list_tuning(session, row.id, limit=RECENT)[::-1],
        "range": range_,
        "ranges": RANGES,
        "reports": deployment_report.stored_kinds(request.app.state.store, row.id),
    }
    return render(request, "deployments/detail.html", context, user=user)


@router.post("/deployments/{ref}/stop")
def stop(
    ref: DeploymentRef,
    user: FormEditor,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Stop evaluating a deployment (its records stay), once the form says it was confirmed."""
    if confirm != "yes":
        raise PageError(400, "Not confirmed", "Stopping a deployment needs its confirmation.")
    out = deployments_service.stop_deployment(session, ref, actor=user.name)
    return _done(f"/deployments/{out.id}", "deployment-stopped")


@router.post("/deployments/{ref}/restart")
def restart(ref: DeploymentRef, user: FormEditor, session: DbSession, request: Request) -> Response:
    """Evaluate a stopped deployment again."""
    out = deployments_service.restart_deployment(session, ref, actor=user.name)
    after_commit(session, lambda: poke_live(request))
    return _done(f"/deployments/{out.id}", "deployment-restarted")


@router.post("/deployments/{ref}/report")
def make_report(
    ref: DeploymentRef,
    user: FormEditor,
    session: DbSession,
    request: Request,
) -> Response:
    """Write the run's report (JSON, HTML, PNG), then show the deployment with its links."""
    built = deployment_report.build_report(session, metric_store(request), ref)
    deployment_id = built["deployment"]["id"]
    deployment_report.write_report(built, request.app.state.store)
    return _done(f"/deployments/{deployment_id}", "report")


@router.post("/deployments/{ref}/tuned-version")
def save_tuned(
    ref: DeploymentRef,
    user: FormEditor,
    session: DbSession,
    alias: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Save the serving version's parameters with the tuned values as a new model version."""
    alias = alias.strip()
    if alias and not _valid_alias(alias):
        raise PageError(
            400, "Invalid input", "An alias starts with a letter, then letters, digits, _ or -."
        )
    created = deployments_service.save_tuned_version(
        session, ref, SaveTuned(alias=alias or None, description=description), actor=user.name
    )
    return RedirectResponse(
        f"/models/{created.model}/versions/{created.version}",
        status_code=303,
        headers=SECURITY_HEADERS,
    )


def _valid_alias(alias: str) -> bool:
    return re.fullmatch(ALIAS_PATTERN, alias) is not None and alias != "latest"
