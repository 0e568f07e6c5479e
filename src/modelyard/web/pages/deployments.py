"""Deployment pages: the list, and one deployment with live charts.

The page renders the deployment, its last interval, alerts, version switches and tuning
records from ``deployments.service``. ``static/charts.js`` then draws predicted against
actual S_max, throughput, latency and CPU with uPlot from ``GET /api/deployments/{id}/metrics``
and appends each interval from ``GET /api/deployments/{id}/events`` as it arrives.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from modelyard.deployments import service as deployments_service
from modelyard.deployments.schemas import SaveTuned
from modelyard.kit.deps import DbSession
from modelyard.registry.schemas import ALIAS_PATTERN
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
    items = deployments_service.list_deployments(session, status=status or None)
    return render(
        request, "deployments/list.html", {"deployments": items, "status": status}, user=user
    )


@router.get("/deployments/{ref}")
def deployment_page(
    request: Request,
    ref: DeploymentRef,
    user: PageUser,
    session: DbSession,
    range_: Annotated[str, Query(alias="range", max_length=8)] = "-15m",
) -> Response:
    """Show a deployment: live charts, last interval, alerts, switches and tuning."""
    if range_ not in RANGES:
        range_ = "-15m"
    row = deployments_service.get_deployment(session, ref)
    deployment = deployments_service.deployment_out(session, row)
    alerts = deployments_service.list_alerts(session, row.id)
    open_alerts = [a for a in alerts if a["resolved_at"] is None]
    context: dict[str, Any] = {
        "deployment": deployment,
        "last": deployment["state"].get("last") or {},
        "open_alerts": open_alerts,
        "recent_alerts": [a for a in reversed(alerts) if a["resolved_at"] is not None][:RECENT],
        "switches": deployments_service.list_switches(session, row.id)[-RECENT:][::-1],
        "tuning": deployments_service.list_tuning(session, row.id, limit=RECENT)[::-1],
        "range": range_,
        "ranges": RANGES,
    }
    return render(request, "deployments/detail.html", context, user=user)


@router.post("/deployments/{ref}/stop")
def stop(ref: DeploymentRef, user: FormEditor, session: DbSession) -> Response:
    """Stop evaluating a deployment (its records stay)."""
    out = deployments_service.stop_deployment(session, ref, actor=user.name)
    return RedirectResponse(f"/deployments/{out['id']}", status_code=303, headers=SECURITY_HEADERS)


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
        f"/models/{created['model']}/versions/{created['version']}",
        status_code=303,
        headers=SECURITY_HEADERS,
    )


def _valid_alias(alias: str) -> bool:
    return re.fullmatch(ALIAS_PATTERN, alias) is not None and alias != "latest"
