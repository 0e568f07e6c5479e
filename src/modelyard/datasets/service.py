"""Datasets: register checked uploads, list, preview, delete; resumable chunked uploads.

A dataset row exists only for a file that passed :func:`modelyard.datasets.ingest.ingest`
and sits under its key in the store. :func:`register_file` is the one place that turns a
received file into a dataset: it checks and converts the file, then commits the row, and
deletes every byte it wrote if either step fails, so nothing half-written stays.

Resumable uploads keep their progress in the database (``received``), so any server
process can take the next chunk; a chunk counts only once it has fully arrived.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from modelyard.auth.schemas import Principal, Role
from modelyard.auth.service import record, require_owner
from modelyard.datasets.formats import Claims, DatasetRejected, merge_claims
from modelyard.datasets.schemas import (
    DATASET_NAME_PATTERN,
    DatasetOut,
    DatasetPage,
    PreviewOut,
    UploadCreate,
    UploadOut,
)
from modelyard.datasets.store import DatasetStore, new_key
from modelyard.kit.db import Database
from modelyard.kit.errors import BadRequest, Conflict, NotFound
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.kit.refs import id_or_name
from modelyard.kit.security import plain_filename
from modelyard.kit.time import utcnow
from modelyard.models import Dataset, DatasetUpload, Evaluation
from modelyard.storage import ParquetBlob, StoreUnavailable

if TYPE_CHECKING:
    from modelyard.datasets.ingest import IngestResult, Progress
    from modelyard.datasets.receive import Received

logger = logging.getLogger(__name__)

CHUNK_BYTES = 16 << 20
UPLOAD_EXPIRY = dt.timedelta(days=7)
ACTIVE_EVALUATION_STATUSES = ("queued", "running")
_SUFFIXES = re.compile(
    r"(\.(csv|tsv|parquet|pq|jsonl|ndjson|json|gz|gzip|zst|zstd))+$", re.IGNORECASE
)


# --- reads ---------------------------------------------------------------------------------


def dataset_out(row: Dataset) -> DatasetOut:
    return DatasetOut.model_validate(row, from_attributes=True)


def get(session: Session, dataset_id: int) -> Dataset:
    row = session.get(Dataset, dataset_id)
    if row is None:
        raise NotFound(f"No dataset with id {dataset_id}; list datasets with GET /api/datasets.")
    return row


def get_by_reference(session: Session, reference: str | int) -> Dataset:
    """A dataset by id (``12``) or by name."""
    key = id_or_name(reference, what="dataset", listing="GET /api/datasets")
    if isinstance(key, int):
        return get(session, key)
    row = session.scalar(sa.select(Dataset).where(Dataset.name == key))
    if row is None:
        raise NotFound(f"No dataset named '{reference}'; list datasets with GET /api/datasets.")
    return row


def list_datasets(
    session: Session, *, q: str | None, limit: int, cursor: str | None
) -> DatasetPage:
    query = sa.select(Dataset).order_by(Dataset.id.desc())
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Dataset.name.ilike(f"%{escaped}%", escape="\\"))
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(Dataset.id < below)
    rows, next_cursor = id_page(list(session.scalars(query.limit(limit + 1))), limit)
    return DatasetPage(items=[dataset_out(r) for r in rows], next_cursor=next_cursor)


def parquet_blob(store: DatasetStore, dataset: Dataset) -> ParquetBlob:
    return store.parquet(dataset.storage_key)


def preview(store: DatasetStore, dataset: Dataset, limit: int) -> PreviewOut:
    # pyarrow (about 30 MB) loads when a dataset is first read, not with the server.
    import pyarrow.parquet as pq

    parquet: pq.ParquetFile = parquet_blob(store, dataset).open()
    rows: list[dict[str, Any]] = []
    for batch in parquet.iter_batches(batch_size=limit):
        rows = batch.to_pylist()
        break
    # Values orjson cannot write as such (decimals, bytes, durations) are shown as text.
    rows = orjson.loads(orjson.dumps(rows, default=str, option=orjson.OPT_NON_STR_KEYS))
    return PreviewOut.model_validate(
        {"dataset": dataset.id, "columns": dataset.columns, "rows": rows}
    )


# --- registration --------------------------------------------------------------------------


def _default_name(filename: str | None) -> str:
    stem = _SUFFIXES.sub("", Path(filename or "").name)
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._")[:180]
    return cleaned or "dataset"


def _free_name(session: Session, base: str) -> str:
    taken = set(
        session.scalars(
            sa.select(Dataset.name).where(
                sa.or_(Dataset.name == base, Dataset.name.like(f"{base}-%"))
            )
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _check_name(session: Session, name: str) -> None:
    if not re.fullmatch(DATASET_NAME_PATTERN, name):
        raise BadRequest(
            f"'{name}' is not a valid dataset name; use letters, digits, _ . - (1-200 chars)."
        )
    if session.scalar(sa.select(Dataset.id).where(Dataset.name == name)) is not None:
        raise Conflict(f"A dataset named '{name}' already exists; choose another name.")


def register_file(
    database: Database,
    store: DatasetStore,
    raw: Path,
    *,
    sha256: str,
    size: int,
    filename: str | None,
    name: str | None,
    description: str,
    claims: Claims,
    actor: str,
    progress: Progress | None = None,
) -> DatasetOut:
    """Check and convert ``raw``, then commit its dataset row; on any failure keep nothing.

    Blocking (it reads the whole file): call it from a worker thread.
    """
    from modelyard.datasets.ingest import ingest  # pyarrow, loaded with the first upload

    key = new_key()
    dest = store.temp_path("parquet")
    stored = False
    try:
        if name is not None:
            with database.session() as session:
                _check_name(session, name)
        result = ingest(
            raw, dest, filename=filename, claims=claims, limits=store.limits, progress=progress
        )
        store.put(key, dest)
        stored = True
        with database.session() as session:
            row = _insert(
                session,
                result,
                key=key,
                sha256=sha256,
                size=size,
                filename=filename,
                name=name,
                description=description,
                actor=actor,
            )
            return dataset_out(row)
    except BaseException:
        if stored:
            store.delete(key)
        raise
    finally:
        store.discard(dest)
        store.discard(raw)


def register_received(
    database: Database,
    store: DatasetStore,
    received: Received,
    *,
    name: str | None,
    description: str,
    format: str | None,
    compression: str | None,
    actor: str,
) -> DatasetOut:
    """:func:`register_file` for a file as an upload received it: its format and compression
    from the file name and what the client said; on any failure nothing is kept."""
    try:
        claims = merge_claims(received.filename, format, compression)
    except BaseException:
        store.discard(received.path)
        raise
    return register_file(
        database,
        store,
        received.path,
        sha256=received.sha256,
        size=received.size,
        filename=received.filename,
        name=name,
        description=description[:10_000],
        claims=claims,
        actor=actor,
    )


def _insert(
    session: Session,
    result: IngestResult,
    *,
    key: str,
    sha256: str,
    size: int,
    filename: str | None,
    name: str | None,
    description: str,
    actor: str,
) -> Dataset:
    if name is not None:
        _check_name(session, name)
    final_name = name or _free_name(session, _default_name(filename))
    row = Dataset(
        name=final_name,
        description=description,
        filename=filename or "",
        format=result.format,
        compression=result.compression,
        sha256=sha256,
        size_bytes=size,
        stored_bytes=result.stored_bytes,
        storage_key=key,
        row_count=result.row_count,
        columns=result.columns,
        created_by=actor,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"A dataset named '{final_name}' was registered at the same time; retry."
        ) from exc
    record(
        session,
        actor,
        "dataset.create",
        "dataset",
        final_name,
        id=row.id,
        rows=result.row_count,
        sha256=sha256,
        format=result.format,
        compression=result.compression,
    )
    return row


def delete(
    session: Session, store: DatasetStore, dataset_id: int, *, actor: str, as_admin: bool = False
) -> None:
    row = get(session, dataset_id)
    require_owner(
        row.created_by,
        actor=actor,
        as_admin=as_admin,
        what=f"Dataset '{row.name}'",
        action="delete it",
    )
    active = session.scalar(
        sa.select(sa.func.count())
        .select_from(Evaluation)
        .where(Evaluation.dataset_id == row.id, Evaluation.status.in_(ACTIVE_EVALUATION_STATUSES))
    )
    if active:
        raise Conflict(
            f"Dataset '{row.name}' has {active} evaluation(s) queued or running; cancel them first."
        )
    session.execute(
        sa.update(Evaluation).where(Evaluation.dataset_id == row.id).values(dataset_id=None)
    )
    key = row.storage_key
    session.delete(row)
    session.flush()
    record(session, actor, "dataset.delete", "dataset", row.name, id=dataset_id)
    # The file goes only once the row's deletion is committed: a failed commit loses nothing.
    sa.event.listen(session, "after_commit", lambda _session: store.delete(key), once=True)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# --- resumable uploads ---------------------------------------------------------------------


def upload_out(row: DatasetUpload) -> UploadOut:
    return UploadOut.model_validate(
        {
            "id": row.id,
            "filename": row.filename,
            "name": row.name,
            "size": row.size,
            "received": row.received,
            "status": row.status,
            "converted": row.converted,
            "chunk_bytes": CHUNK_BYTES,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def purge_stale_uploads(session: Session, store: DatasetStore) -> int:
    cutoff = utcnow() - UPLOAD_EXPIRY
    stale = list(session.scalars(sa.select(DatasetUpload).where(DatasetUpload.updated_at < cutoff)))
    for row in stale:
        store.delete_upload(row.id)
        session.delete(row)
    session.flush()
    return len(stale)


def create_upload(
    session: Session, store: DatasetStore, data: UploadCreate, *, max_bytes: int, actor: str
) -> UploadOut:
    merge_claims(data.filename, data.format, data.compression)
    if data.size is not None and data.size > max_bytes:
        raise BadRequest(
            f"The dataset is larger than the configured limit of {max_bytes} bytes "
            "(MODELYARD_STORAGE__MAX_DATASET_BYTES)."
        )
    if data.name is not None:
        _check_name(session, data.name)
    purge_stale_uploads(session, store)
    upload_id = new_key()
    row = DatasetUpload(
        id=upload_id,
        filename=plain_filename(data.filename) or "",
        name=data.name,
        description=data.description,
        format=data.format,
        compression=data.compression,
        size=data.size,
        received=0,
        status="open",
        created_by=actor,
    )
    session.add(row)
    session.flush()
    return upload_out(row)


def get_upload(session: Session, upload_id: str, principal: Principal) -> DatasetUpload:
    row = session.get(DatasetUpload, upload_id)
    if row is None or (row.created_by != principal.name and not principal.can(Role.admin)):
        raise NotFound(f"No upload '{upload_id}'; it may have completed, been aborted or expired.")
    return row


def check_offset(row: DatasetUpload, offset: int) -> None:
    if row.status != "open":
        raise Conflict(f"Upload '{row.id}' is being completed; it takes no more chunks.")
    if offset != row.received:
        raise Conflict(
            f"This chunk starts at byte {offset} but upload '{row.id}' has {row.received} bytes; "
            f"send the chunk that starts at {row.received}.",
            extra={"received": row.received},
        )


def commit_chunk(session: Session, upload_id: str, offset: int, length: int) -> UploadOut:
    """Count a fully received chunk; refuses if another chunk moved the offset meanwhile."""
    updated = _rowcount(
        session.execute(
            sa.update(DatasetUpload)
            .where(
                DatasetUpload.id == upload_id,
                DatasetUpload.received == offset,
                DatasetUpload.status == "open",
            )
            .values(received=offset + length, updated_at=utcnow())
        )
    )
    if not updated:
        raise Conflict(
            f"Upload '{upload_id}' changed while this chunk arrived; ask for its offset and resume."
        )
    row = session.get(DatasetUpload, upload_id)
    assert row is not None
    session.refresh(row)
    return upload_out(row)


def complete_upload(
    database: Database,
    store: DatasetStore,
    upload_id: str,
    principal: Principal,
    *,
    expected_sha256: str | None,
) -> DatasetOut:
    """Hash, check and register the uploaded bytes; the upload is gone afterwards, whether
    it was registered or refused. Only an unavailable store (503) leaves it open, to complete
    again later.

    Blocking: call it from a worker thread.
    """
    with database.session() as session:
        row = get_upload(session, upload_id, principal)
        if row.status != "open":
            raise Conflict(f"Upload '{upload_id}' is already being completed.")
        if row.size is not None and row.received != row.size:
            raise Conflict(
                f"Upload '{upload_id}' has {row.received} of its {row.size} bytes; send the rest first.",
                extra={"received": row.received},
            )
        claimed = _rowcount(
            session.execute(
                sa.update(DatasetUpload)
                .where(DatasetUpload.id == upload_id, DatasetUpload.status == "open")
                .values(status="completing", converted=0, updated_at=utcnow())
            )
        )
        if not claimed:
            raise Conflict(f"Upload '{upload_id}' is already being completed.")
        received, filename, name = row.received, row.filename, row.name
        description, claimed_format, compression = row.description, row.format, row.compression
    path = store.temp_path("upload")
    try:
        sha256 = store.assemble(upload_id, received, path)
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise DatasetRejected(
                f"The uploaded bytes hash to {sha256}, not the {expected_sha256} the client sent; "
                "the upload was corrupted and is discarded."
            )
        claims = merge_claims(filename, claimed_format, compression)
        result = register_file(
            database,
            store,
            path,
            sha256=sha256,
            size=received,
            filename=filename or None,
            name=name,
            description=description,
            claims=claims,
            actor=principal.name,
            progress=ConversionProgress(database, upload_id),
        )
    except StoreUnavailable:
        # The bytes are still where they were: the client can complete again later.
        store.discard(path)
        with database.session() as session:
            session.execute(
                sa.update(DatasetUpload)
                .where(DatasetUpload.id == upload_id)
                .values(status="open", converted=None, updated_at=utcnow())
            )
        raise
    except BaseException:
        _forget_upload(database, store, upload_id, path)
        raise
    _forget_upload(database, store, upload_id, path)
    return result


class ConversionProgress:
    """Writes how far a completing upload's conversion has gone to its row, at most every
    ``every`` seconds, for the page (and any client) that polls the upload meanwhile."""

    def __init__(self, database: Database, upload_id: str, every: float = 0.25) -> None:
        self.database = database
        self.upload_id = upload_id
        self.every = every
        self.last = -every

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        try:
            with self.database.session() as session:
                session.execute(
                    sa.update(DatasetUpload)
                    .where(DatasetUpload.id == self.upload_id)
                    .values(converted=done)
                )
        except SQLAlchemyError:  # progress is a courtesy: the conversion goes on without it
            logger.warning("could not record the conversion progress of %s", self.upload_id)


def _forget_upload(database: Database, store: DatasetStore, upload_id: str, path: Path) -> None:
    store.discard(path)
    with suppress(StoreUnavailable):  # the store went away meanwhile: the parts stay behind
        store.delete_upload(upload_id)
    with database.session() as session:
        session.execute(sa.delete(DatasetUpload).where(DatasetUpload.id == upload_id))


def abort_upload(
    session: Session, store: DatasetStore, upload_id: str, principal: Principal
) -> None:
    row = get_upload(session, upload_id, principal)
    if row.status != "open":
        raise Conflict(f"Upload '{upload_id}' is being completed; it can no longer be aborted.")
    session.delete(row)
    session.flush()
    store.delete_upload(upload_id)
