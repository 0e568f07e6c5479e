"""``POST /api/models/{ref}/predict``: a version's predictions for the rows of the body.

The handler is a coroutine that stays on the event loop for what is quick (the cached
reference and model, a small body) and hands the rest to the thread pool (a first load, a
resolution after a registry write, a large body).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.auth.deps import Editor, Viewer
from modelyard.auth.schemas import Role
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import PayloadTooLarge
from modelyard.kit.openapi import problems
from modelyard.registry import generation
from modelyard.serving import prediction_log
from modelyard.serving.schemas import PredictionLogFlushed, PredictionLogOut, PredictionLogUpdate

if TYPE_CHECKING:
    from modelyard.flavors import LoadedModel
    from modelyard.serving.service import References

router = APIRouter(tags=["predictions"])

INLINE_BYTES = 64 << 10
"""Bodies up to this size are parsed and predicted on the event loop (no thread hop)."""

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {
                            "type": "object",
                            "description": "dataframe_split, dataframe_records, inputs or instances",
                        },
                    ]
                },
                "example": {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, 2.0]]}},
            },
            "application/vnd.apache.arrow.stream": {
                "schema": {"type": "string", "format": "binary"}
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


class _State:
    """What one process keeps for predictions: references and loaded versions (bounded)."""

    def __init__(self, size: int) -> None:
        from modelyard.serving.service import References

        self.references: References = References()
        self.models: OrderedDict[tuple[int, str | None], LoadedModel] = OrderedDict()
        self.size = size
        self.lock = threading.Lock()

    def model(self, key: tuple[int, str | None]) -> LoadedModel | None:
        found = self.models.get(key)
        if found is not None:
            self.models.move_to_end(key)
        return found

    def keep(self, key: tuple[int, str | None], model: LoadedModel) -> None:
        with self.lock:
            self.models[key] = model
            while len(self.models) > self.size:
                self.models.popitem(last=False)


def _state(request: Request) -> _State:
    state: _State | None = getattr(request.app.state, "predictions", None)
    if state is None:
        state = _State(request.app.state.settings.serving.models_cached)
        request.app.state.predictions = state
    return state


async def _body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(
            f"The body is larger than {limit} bytes (MODELYARD_SERVING__MAX_REQUEST_BYTES)."
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"The body is larger than {limit} bytes (MODELYARD_SERVING__MAX_REQUEST_BYTES)."
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/models/{ref:path}/predict",
    openapi_extra=_BODY,
    responses={
        200: {"description": "`predictions`, one per row, and the version that made them"},
        **problems(413, 415),
    },
)
async def predict(
    request: Request,
    ref: Annotated[str, Path(description="`name`, `name/3` or `name@alias`.", max_length=300)],
    _: Viewer,
) -> Response:
    """Predict with a version: JSON records, MLflow's invocation bodies, Arrow IPC or CSV."""
    return await answer(request, ref)


async def answer(request: Request, ref: str) -> Response:
    """The predictions of ``ref`` for the request's body (the caller checked the role)."""
    from modelyard.serving import service  # numpy and the flavors: with the first prediction

    settings = request.app.state.settings
    database = request.app.state.db
    body = await _body(request, settings.serving.max_request_bytes)
    state = _state(request)
    now = await generation(database)
    resolution = state.references.get(now, ref)
    if resolution is None:
        resolution = await run_in_threadpool(service.resolve, database, ref)
        state.references.put(now, ref, resolution)
    resolved = resolution.version
    log = request.app.state.prediction_log if resolution.logged else None
    key = (resolved.version_id, resolved.artifact_sha256)
    model = state.model(key)
    if model is None:
        model = await run_in_threadpool(service.load, resolved, request.app.state.artifacts)
        state.keep(key, model)
    served = service.Served(resolved, model)
    content_type = request.headers.get("content-type", "application/json")
    answer: service.Answer
    if len(body) <= INLINE_BYTES:
        answer = service.predict(served, body, content_type, log)
    else:
        answer = await run_in_threadpool(service.predict, served, body, content_type, log)
    return Response(
        orjson.dumps(answer),
        media_type="application/json",
        headers={"X-Modelyard-Version": f"{resolved.model}/{resolved.version}"},
    )


# --- prediction logging --------------------------------------------------------------------

ModelName = Annotated[str, Path(description="The model's name.", max_length=200)]


def _log_out(request: Request, found: dict[str, Any]) -> dict[str, Any]:
    log: prediction_log.PredictionLog = request.app.state.prediction_log
    buffered, dropped = log.buffered(found["model"])
    return found | {
        "buffered_rows": buffered,
        "dropped_rows": dropped,
        "batch_rows": log.settings.log_batch_rows,
        "flush_seconds": log.settings.log_flush_seconds,
    }


@router.get("/models/{name}/prediction-log", response_model=PredictionLogOut)
def get_prediction_log(
    request: Request, name: ModelName, _: Viewer, session: DbSession
) -> dict[str, Any]:
    """Show whether a model's predict requests are logged to datasets."""
    return _log_out(request, prediction_log.setting(session, name))


@router.put("/models/{name}/prediction-log", response_model=PredictionLogOut)
def set_prediction_log(
    request: Request,
    name: ModelName,
    data: PredictionLogUpdate,
    user: Editor,
    session: DbSession,
) -> dict[str, Any]:
    """Switch the logging of a model's predict requests (inputs and outputs) on or off (the
    model's owner or an admin)."""
    return _log_out(
        request,
        prediction_log.set_enabled(
            session, name, data.enabled, actor=user.name, as_admin=user.role is Role.admin
        ),
    )


@router.post("/models/{name}/prediction-log/flush", response_model=PredictionLogFlushed)
def flush_prediction_log(
    request: Request, name: ModelName, _: Editor, session: DbSession
) -> dict[str, Any]:
    """Turn this process's logged rows of a model into a dataset now."""
    prediction_log.setting(session, name)  # a 404 for an unknown model
    log: prediction_log.PredictionLog = request.app.state.prediction_log
    dataset = log.flush(name)
    return {"model": name, "datasets": [dataset] if dataset else []}
