"""Dataset endpoints: streamed and resumable uploads, listing, preview and deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from modelyard.auth.deps import Editor, Viewer
from modelyard.auth.schemas import Role
from modelyard.datasets import service
from modelyard.datasets._cached import cached_preview
from modelyard.datasets.receive import (
    Received,
    dataset_upload_limit,
    receive_chunk,
    receive_multipart,
    receive_raw,
)
from modelyard.datasets.schemas import (
    DATASET_NAME_PATTERN,
    DatasetOut,
    DatasetPage,
    PreviewOut,
    UploadComplete,
    UploadCreate,
    UploadOut,
)
from modelyard.datasets.store import DatasetStore
from modelyard.kit.body_limit import large_body
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import BadRequest, Unprocessable

router = APIRouter(tags=["datasets"])


async def get_store(request: Request) -> DatasetStore:
    store: DatasetStore = request.app.state.datasets
    return store


Store = Annotated[DatasetStore, Depends(get_store)]
DatasetId = Annotated[int, Path(ge=1, le=2**62, description="The dataset's id.")]
UploadId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The upload's id.")]

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "pattern": DATASET_NAME_PATTERN},
                        "description": {"type": "string"},
                        "format": {"type": "string", "enum": ["csv", "parquet", "jsonl"]},
                        "compression": {"type": "string", "enum": ["none", "gzip", "zstd"]},
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
# Bodies a client sends as structured data, never as a file's bytes (`{}` is not a dataset).
_NOT_FILES = {"application/json", "application/x-www-form-urlencoded"}
_CHUNK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/datasets", response_model=DatasetOut, status_code=201, openapi_extra=_UPLOAD_BODY)
@large_body(dataset_upload_limit, "MODELYARD_STORAGE__MAX_DATASET_BYTES")
async def upload_dataset(
    request: Request,
    principal: Editor,
    settings: AppSettings,
    store: Store,
    name: Annotated[str | None, Query(pattern=DATASET_NAME_PATTERN)] = None,
    filename: Annotated[str | None, Query(max_length=255, description="For a raw body.")] = None,
    format: Annotated[str | None, Query(max_length=16)] = None,
    compression: Annotated[str | None, Query(max_length=16)] = None,
) -> DatasetOut:
    """Upload a CSV, Parquet or JSON Lines file (plain, gzip or zstd) in one request."""
    limit = settings.storage.max_dataset_bytes
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() in _NOT_FILES:
        raise Unprocessable(
            f"A {content_type.split(';')[0]} body is not a dataset file: send the file as "
            "multipart field `file`, or its bytes as the body (Content-Type "
            "application/octet-stream); JSON Lines go as a file too."
        )
    target = store.temp_path()
    received: Received
    try:
        if content_type.startswith("multipart/form-data"):
            received = await receive_multipart(request, target, max_bytes=limit)
        else:
            received = await receive_raw(request, target, max_bytes=limit, filename=filename)
    except ClientDisconnect as exc:
        raise BadRequest("The connection broke during the upload; nothing was stored.") from exc
    fields = received.fields
    return await run_in_threadpool(
        lambda: service.register_received(
            request.app.state.db,
            store,
            received,
            name=fields.get("name") or name,
            description=fields.get("description", ""),
            format=fields.get("format") or format,
            compression=fields.get("compression") or compression,
            actor=principal.name,
        )
    )


@router.post("/datasets/uploads", response_model=UploadOut, status_code=201)
def create_upload(
    data: UploadCreate, principal: Editor, session: DbSession, settings: AppSettings, store: Store
) -> UploadOut:
    """Start a resumable upload; then PUT its chunks and complete it."""
    return service.create_upload(
        session, store, data, max_bytes=settings.storage.max_dataset_bytes, actor=principal.name
    )


@router.get("/datasets/uploads/{upload_id}", response_model=UploadOut)
def get_upload(upload_id: UploadId, principal: Editor, session: DbSession) -> UploadOut:
    """Show an upload's progress: `received` is where the next chunk starts."""
    return service.upload_out(service.get_upload(session, upload_id, principal))


@router.put("/datasets/uploads/{upload_id}", response_model=UploadOut, openapi_extra=_CHUNK_BODY)
@large_body(lambda s: s.storage.max_dataset_bytes, "MODELYARD_STORAGE__MAX_DATASET_BYTES")
async def put_chunk(
    upload_id: UploadId,
    request: Request,
    principal: Editor,
    settings: AppSettings,
    store: Store,
    offset: Annotated[
        int, Query(ge=0, description="Where this chunk starts: the upload's `received`.")
    ],
) -> UploadOut:
    """Append the next chunk of an upload (409 with `received` if the offset is not next)."""
    db = request.app.state.db

    def load() -> tuple[int | None, int]:
        with db.session() as session:
            row = service.get_upload(session, upload_id, principal)
            service.check_offset(row, offset)
            return row.size, row.received

    size, _ = await run_in_threadpool(load)
    limit = min(settings.storage.max_dataset_bytes, size or settings.storage.max_dataset_bytes)
    chunk = store.temp_path("chunk")
    try:
        length = await receive_chunk(request, chunk, offset=offset, limit=limit)

        def commit() -> UploadOut:
            # The part is stored first and counted after: a chunk counts only once any server
            # can read it; a part that lost a race to another try of the chunk is never used.
            store.put_part(upload_id, offset, length, chunk)
            with db.session() as session:
                return service.commit_chunk(session, upload_id, offset, length)

        return await run_in_threadpool(commit)
    finally:
        store.discard(chunk)


@router.post("/datasets/uploads/{upload_id}/complete", response_model=DatasetOut, status_code=201)
async def complete_upload(
    upload_id: UploadId,
    request: Request,
    principal: Editor,
    store: Store,
    data: UploadComplete | None = None,
) -> DatasetOut:
    """Check the uploaded file and register it as a dataset."""
    return await run_in_threadpool(
        service.complete_upload,
        request.app.state.db,
        store,
        upload_id,
        principal,
        expected_sha256=data.sha256 if data else None,
    )


@router.delete("/datasets/uploads/{upload_id}", status_code=204)
def abort_upload(upload_id: UploadId, principal: Editor, session: DbSession, store: Store) -> None:
    """Abort an upload and delete its bytes."""
    service.abort_upload(session, store, upload_id, principal)


@router.get("/datasets", response_model=DatasetPage)
def list_datasets(
    _: Viewer,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=200, description="Name substring.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> DatasetPage:
    """List datasets, newest first."""
    return service.list_datasets(session, q=q, limit=limit, cursor=cursor)


@router.get("/datasets/{dataset_id:int}", response_model=DatasetOut)
def get_dataset(dataset_id: DatasetId, _: Viewer, session: DbSession) -> DatasetOut:
    """Show a dataset: its hash, row count and columns."""
    return service.dataset_out(service.get(session, dataset_id))


@router.get("/datasets/{dataset_id:int}/preview", response_model=PreviewOut)
async def preview_dataset(
    request: Request,
    dataset_id: DatasetId,
    _: Viewer,
    store: Store,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> Response:
    """Show a dataset's first rows."""
    state = request.app.state
    body = await cached_preview(state.db, state.cache, store, dataset_id, limit)
    return Response(body, media_type="application/json")


@router.delete("/datasets/{dataset_id:int}", status_code=204)
def delete_dataset(
    dataset_id: DatasetId, principal: Editor, session: DbSession, store: Store
) -> None:
    """Delete a dataset and its file (evaluations of it keep their metrics)."""
    service.delete(
        session, store, dataset_id, actor=principal.name, as_admin=principal.role is Role.admin
    )
