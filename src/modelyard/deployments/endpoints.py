"""Deployment endpoints: create and stop deployments; read their metrics, events, alerts,
version switches and tuning records; save tuned parameters as a new version; reports.

``targets_router`` holds the one target endpoint that writes deployments, deleting a target
with its stopped deployments: this domain depends on targets, never the other way round."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response, StreamingResponse

from modelyard.auth.deps import Editor, StreamViewer, Viewer
from modelyard.auth.schemas import Role
from modelyard.deployments import report, service
from modelyard.deployments._engine import deployment_owner
from modelyard.deployments.schemas import (
    AlertOut,
    DeploymentCreate,
    DeploymentOut,
    DeploymentPage,
    SaveTuned,
    SwitchOut,
    TuningRecordOut,
)
from modelyard.kit.db import after_commit
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import NotFound
from modelyard.kit.openapi import event_stream
from modelyard.kit.refs import MAX_ID, ascii_int
from modelyard.kit.responses import json_response
from modelyard.monitoring.deps import MetricWindow, metric_store, poke_live
from modelyard.registry.schemas import VersionOut
from modelyard.storage import BlobMissing, blob_response

router = APIRouter(tags=["deployments"])
targets_router = APIRouter(tags=["targets"])

DeploymentRef = Annotated[str, Path(max_length=200, description="The deployment's id or name.")]


@router.get("/deployments", response_model=DeploymentPage)
def list_deployments(
    _: Viewer,
    session: DbSession,
    target: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(pattern=r"^(active|stopped)$")] = None,
) -> DeploymentPage:
    """List deployments, their serving version and last prediction."""
    return service.list_deployments(session, target=target, status=status)


@router.post("/deployments", response_model=DeploymentOut, status_code=201)
def create_deployment(
    data: DeploymentCreate, principal: Editor, session: DbSession, request: Request
) -> DeploymentOut:
    """Deploy a formula version (or follow an alias) against a target."""
    created = service.create_deployment(session, data, actor=principal.name)
    after_commit(session, lambda: poke_live(request))
    return created


@router.get("/deployments/{deployment}", response_model=DeploymentOut)
def get_deployment(deployment: DeploymentRef, _: Viewer, session: DbSession) -> DeploymentOut:
    """Show a deployment: serving version, tuned parameters, last interval."""
    return service.deployment_out(session, service.get_deployment(session, deployment))


@router.post("/deployments/{deployment}/stop", response_model=DeploymentOut)
def stop_deployment(
    deployment: DeploymentRef, principal: Editor, session: DbSession
) -> DeploymentOut:
    """Stop evaluating a deployment (its records stay)."""
    return service.stop_deployment(session, deployment, actor=principal.name)


@router.post("/deployments/{deployment}/restart", response_model=DeploymentOut)
def restart_deployment(
    deployment: DeploymentRef, principal: Editor, session: DbSession, request: Request
) -> DeploymentOut:
    """Evaluate a stopped deployment again (its records carry on)."""
    out = service.restart_deployment(session, deployment, actor=principal.name)
    after_commit(session, lambda: poke_live(request))
    return out


@router.delete("/deployments/{deployment}", status_code=204)
def delete_deployment(
    deployment: DeploymentRef, principal: Editor, session: DbSession, request: Request
) -> Response:
    """Delete a stopped deployment and everything it recorded."""
    service.delete_deployment(session, metric_store(request), deployment, actor=principal.name)
    return Response(status_code=204)


@router.get("/deployments/{deployment}/metrics")
def deployment_metrics(
    deployment: DeploymentRef,
    _: Viewer,
    session: DbSession,
    request: Request,
    window: MetricWindow,
    name: Annotated[
        list[str],
        Query(description="Only these series (repeat); `latency_*` for every name it starts."),
    ] = [],  # noqa: B006
    target_metrics: Annotated[bool, Query(description="Include the target's series.")] = True,
) -> Response:
    """Predicted against actual, headroom and the target's metrics over a time range."""
    result = service.query_metrics(
        session,
        metric_store(request),
        deployment,
        from_ms=window.from_ms,
        to_ms=window.to_ms,
        step_ms=window.step_ms,
        names=name or None,
        include_target=target_metrics,
        fields=window.fields,
        digits=window.digits,
    )
    return json_response(result)


@router.get(
    "/deployments/{deployment}/events",
    response_class=StreamingResponse,
    responses=event_stream(
        "One event per evaluated interval: predicted and actual S_max, headroom and the "
        "target's series.",
        "interval",
        {
            "type": "object",
            "required": ["ts_ms"],
            "properties": {"ts_ms": {"type": "integer", "description": "Milliseconds."}},
            "additionalProperties": {"type": ["number", "null"]},
        },
    ),
)
async def deployment_events(
    deployment: DeploymentRef,
    _: StreamViewer,
    request: Request,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Stop after this many events.")
    ] = None,
    timeout: Annotated[
        float | None, Query(gt=0, le=86400, description="Stop after this many seconds.")
    ] = None,
) -> StreamingResponse:
    """Stream each interval's prediction, actual and headroom as server-sent events.

    Reconnect with ``Last-Event-ID`` to resume after the last event seen.
    """
    db = request.app.state.db
    store = metric_store(request)

    def lookup() -> int:
        with db.session() as session:
            return service.get_deployment(session, deployment).id

    deployment_id = await run_in_threadpool(lookup)
    owner = deployment_owner(deployment_id)
    resume = ascii_int(last_event_id.strip()) if last_event_id else None
    # An event id is a sample's time in ms: one past 2**62 came from no stream of ours.
    after = resume if resume is not None and resume <= MAX_ID else int(time.time() * 1000) - 1

    async def stream() -> AsyncIterator[bytes]:
        nonlocal after
        sent = 0
        started = time.monotonic()
        last_beat = started
        yield b"retry: 2000\n\n"
        # No request.is_disconnected() here: it reads the request's receive channel beside
        # Starlette's own disconnect listener, and under granian the two readers made
        # streams end at once (the browser saw ERR_INCOMPLETE_CHUNKED_ENCODING). A client
        # that leaves cancels this generator through Starlette, or fails the next send.
        while True:
            if timeout is not None and time.monotonic() - started > timeout:
                return
            samples = await run_in_threadpool(
                store.samples_between, owner, after, int(time.time() * 1000) + 60_000
            )
            for ts, values in samples:
                payload: dict[str, Any] = {"ts_ms": ts, **values}
                yield (
                    b"id: "
                    + str(ts).encode()
                    + b"\nevent: interval\ndata: "
                    + orjson.dumps(payload)
                    + b"\n\n"
                )
                after = ts
                sent += 1
                if limit is not None and sent >= limit:
                    return
            if time.monotonic() - last_beat > 15:
                yield b": keep-alive\n\n"
                last_beat = time.monotonic()
            await asyncio.sleep(0.5)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/deployments/{deployment}/alerts", response_model=list[AlertOut])
def deployment_alerts(
    deployment: DeploymentRef,
    _: Viewer,
    session: DbSession,
    open_only: Annotated[bool, Query(alias="open")] = False,
) -> list[AlertOut]:
    """Alert events of a deployment (prediction error, low headroom, target down)."""
    return service.list_alerts(session, deployment, open_only=open_only)


@router.get("/deployments/{deployment}/switches", response_model=list[SwitchOut])
def deployment_switches(
    deployment: DeploymentRef, _: Viewer, session: DbSession
) -> list[SwitchOut]:
    """Every change of the serving version and why (start, alias moved, lower error)."""
    return service.list_switches(session, deployment)


@router.get("/deployments/{deployment}/tuning", response_model=list[TuningRecordOut])
def deployment_tuning(
    deployment: DeploymentRef,
    _: Viewer,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[TuningRecordOut]:
    """Tuning records: parameters before and after, evidence, error before and after."""
    return service.list_tuning(session, deployment, limit=limit)


@router.post("/deployments/{deployment}/tuned-version", response_model=VersionOut, status_code=201)
def save_tuned(
    deployment: DeploymentRef, data: SaveTuned, principal: Editor, session: DbSession
) -> VersionOut:
    """Save the serving version's parameters with the tuned values as a new model version."""
    return service.save_tuned_version(session, deployment, data, actor=principal.name)


_MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8", "png": "image/png"}


@router.post("/deployments/{deployment}/report", status_code=201)
def make_report(
    deployment: DeploymentRef,
    _: Editor,
    session: DbSession,
    request: Request,
) -> Response:
    """Write the run's report artifacts (JSON, HTML, 6-panel PNG) and return the summary."""
    built = report.build_report(session, metric_store(request), deployment)
    deployment_id = built["deployment"]["id"]
    report.write_report(built, request.app.state.store)
    links = {kind: f"/api/deployments/{deployment_id}/report/{kind}" for kind in report.FILES}
    return json_response(
        {
            "deployment": built["deployment"]["name"],
            "performance": built["performance"],
            "files": links,
        },
        201,
    )


@router.get(
    "/deployments/{deployment}/report/{kind}",
    response_class=FileResponse,
    responses={200: {"content": {m.split(";")[0]: {} for m in _MEDIA.values()}}},
)
def get_report(
    deployment: DeploymentRef,
    kind: Annotated[str, Path(pattern=r"^(json|html|png)$")],
    _: Viewer,
    session: DbSession,
    request: Request,
) -> Response:
    """Download a report artifact written by POST .../report."""
    deployment_id = service.get_deployment(session, deployment).id
    # The HTML is a standalone document (inline styles, the figure as a data: image): allow
    # that much, no scripts, and no framing.
    try:
        return blob_response(
            request.app.state.store,
            report.report_key(deployment_id, kind),
            media_type=_MEDIA[kind],
            headers={
                "Content-Security-Policy": "default-src 'none'; img-src data:; "
                "style-src 'unsafe-inline'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        )
    except BlobMissing as exc:
        raise NotFound(
            f"No report yet; create one with POST /api/deployments/{deployment_id}/report."
        ) from exc


@targets_router.delete("/targets/{target}", status_code=204)
def delete_target(
    target: Annotated[str, Path(max_length=200, description="The target's id or name.")],
    principal: Editor,
    session: DbSession,
    settings: AppSettings,
    request: Request,
) -> None:
    """Delete a stopped target, its metrics and its stopped deployments."""
    service.delete_target(
        session,
        metric_store(request),
        settings.home,
        target,
        actor=principal.name,
        as_admin=principal.role is Role.admin,
    )
