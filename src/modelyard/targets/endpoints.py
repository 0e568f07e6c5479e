"""Target endpoints: create, list, start, stop and delete live targets; push metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from modelyard.auth.deps import Editor, Viewer
from modelyard.auth.schemas import Role
from modelyard.kit.body_limit import large_body
from modelyard.kit.db import after_commit
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import UnsupportedMediaType
from modelyard.kit.responses import json_response
from modelyard.monitoring.deps import MetricWindow, metric_store, poke_live
from modelyard.targets import service
from modelyard.targets.schemas import PushAccepted, PushBatch, TargetCreate, TargetOut, TargetPage

router = APIRouter(tags=["targets"])

TargetRef = Annotated[str, Path(max_length=200, description="The target's id or name.")]


@router.get("/targets", response_model=TargetPage)
def list_targets(
    _: Viewer,
    session: DbSession,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> TargetPage:
    """List live targets and their status."""
    return service.list_targets(session, kind=kind)


@router.post("/targets", response_model=TargetOut, status_code=201)
def create_target(
    data: TargetCreate, principal: Editor, session: DbSession, request: Request
) -> TargetOut:
    """Create a target (rocksdb-embedded, db_bench, prometheus or push) and start following it."""
    created = service.create_target(session, data, actor=principal.name)
    after_commit(session, lambda: poke_live(request))
    return created


@router.get("/targets/{target}", response_model=TargetOut)
def get_target(target: TargetRef, _: Viewer, session: DbSession) -> TargetOut:
    """Show one target, its status and the reason when it is down."""
    return service.target_out(service.get_target(session, target))


@router.post("/targets/{target}/start", response_model=TargetOut)
def start_target(
    target: TargetRef, principal: Editor, session: DbSession, request: Request
) -> TargetOut:
    """Follow a stopped target again."""
    row = service.set_desired_state(
        session, target, "running", actor=principal.name, as_admin=principal.role is Role.admin
    )
    after_commit(session, lambda: poke_live(request))
    return row


@router.post("/targets/{target}/stop", response_model=TargetOut)
def stop_target(
    target: TargetRef, principal: Editor, session: DbSession, request: Request
) -> TargetOut:
    """Stop following a target (and stop what modelyard started for it)."""
    row = service.set_desired_state(
        session, target, "stopped", actor=principal.name, as_admin=principal.role is Role.admin
    )
    after_commit(session, lambda: poke_live(request))
    return row


@router.get("/targets/{target}/metrics")
def target_metrics(
    target: TargetRef,
    _: Viewer,
    session: DbSession,
    request: Request,
    window: MetricWindow,
    name: Annotated[list[str], Query(description="Only these series; repeat.")] = [],  # noqa: B006
) -> Response:
    """The target's measured series (ops/s, latency, CPU, compaction...) over a time range."""
    row = service.get_target(session, target)
    result = metric_store(request).query(
        service.target_owner(row.id),
        from_ms=window.from_ms,
        to_ms=window.to_ms,
        step_ms=window.step_ms,
        names=name or None,
    )
    return json_response({**result.to_dict(window.fields, window.digits), "target": row.name})


@router.post(
    "/targets/{target}/metrics",
    response_model=PushAccepted,
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": PushBatch.model_json_schema(
                        ref_template="#/components/schemas/{model}"
                    )
                }
            },
        }
    },
)
@large_body(lambda s: s.server.max_push_bytes, "MODELYARD_SERVER__MAX_PUSH_BYTES")
async def push_metrics(target: TargetRef, principal: Editor, request: Request) -> PushAccepted:
    """Push a batch of samples (`{"samples": [{"t": ..., "metrics": {...}}]}`) to a push target."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise UnsupportedMediaType("Send the batch as application/json.")
    # At most server.max_push_bytes arrive (the body limit counts them), into one buffer.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    from starlette.concurrency import run_in_threadpool

    def write() -> PushAccepted:
        with request.app.state.db.session() as session:
            row = service.get_target(session, target)
            return service.ingest_push(metric_store(request), row, body)

    return await run_in_threadpool(write)
