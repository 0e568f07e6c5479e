"""Prediction logging: a model's predict requests (inputs and outputs) kept as datasets.

Logging is a per-model setting an editor switches on (``PUT /api/models/{name}/prediction-
log``, audited). While it is on, every predict request of that model adds its rows to an
in-memory buffer of this process: every column of the body as sent (extra columns too, so a
label or an id sent beside the features is kept), then ``prediction``, ``version`` and
``logged_at``. A buffer becomes one dataset, through the one path that makes datasets
(:func:`modelyard.datasets.service.register_file`), when it holds ``log_batch_rows`` rows or
its oldest row is ``log_flush_seconds`` old, when an editor flushes it, and when the server
stops; so a dataset holds many requests, never one. The datasets are ordinary ones
(``<model>.predictions.<UTC time>.<4 hex>``): evaluate a version on them or check them for
drift against the training data.

Memory is bounded: past ``log_max_buffered_rows`` rows of one model (flushes failing, say the
store is away), further rows are not logged and counted in ``dropped``. The buffer is per
process: rows of a process that is killed before a flush are lost. pyarrow loads with the
first flush, not with the first logged request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.auth.service import record, require_owner
from modelyard.kit.errors import ProblemError
from modelyard.kit.time import utcnow
from modelyard.models import PredictionLogSetting, RegisteredModel
from modelyard.registry import service as registry

if TYPE_CHECKING:
    import numpy as np

    from modelyard.config import ServingSettings
    from modelyard.datasets.schemas import DatasetOut
    from modelyard.datasets.store import DatasetStore
    from modelyard.kit.db import Database

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = ("prediction", "version", "logged_at")
WAKE_SECONDS = 1.0


# --- the setting ---------------------------------------------------------------------------


def is_logged(session: Session, model: str) -> bool:
    """Whether predict requests of ``model`` are logged (one indexed lookup)."""
    enabled = session.scalar(
        sa.select(PredictionLogSetting.enabled)
        .join(RegisteredModel, RegisteredModel.id == PredictionLogSetting.model_id)
        .where(RegisteredModel.name == model)
    )
    return bool(enabled)


def setting(session: Session, model: str) -> dict[str, Any]:
    row = session.get(PredictionLogSetting, registry.model_id(session, model))
    return {
        "model": model,
        "enabled": bool(row and row.enabled),
        "updated_by": row.updated_by if row else None,
        "updated_at": row.updated_at if row else None,
    }


def set_enabled(
    session: Session, model: str, enabled: bool, *, actor: str, as_admin: bool = False
) -> dict[str, Any]:
    """Switch logging on or off, as the model's owner or an admin (audited, and counted as a
    registry change: every process's next request of the model sees it)."""
    found = registry.get_model(session, model)
    require_owner(
        found.created_by,
        actor=actor,
        as_admin=as_admin,
        what=f"Model '{model}'",
        action="switch its prediction logging",
    )
    model_id = registry.model_id(session, model)
    row = session.get(PredictionLogSetting, model_id)
    if row is None:
        row = PredictionLogSetting(model_id=model_id, enabled=enabled, updated_by=actor)
        session.add(row)
    row.enabled = enabled
    row.updated_by = actor
    row.updated_at = utcnow()
    session.flush()
    record(session, actor, "model.prediction_log", "model", model, enabled=enabled)
    registry.count_change(session)
    return setting(session, model)


# --- the buffer ----------------------------------------------------------------------------


@dataclass
class _Buffer:
    parts: list[tuple[dict[str, np.ndarray], np.ndarray, int, dt.datetime]] = field(
        default_factory=list
    )
    rows: int = 0
    since: float = 0.0
    """When the oldest buffered row arrived (monotonic seconds)."""
    dropped: int = 0


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _table(parts: list[tuple[dict[str, np.ndarray], np.ndarray, int, dt.datetime]]) -> Any:
    """The buffered requests as one Arrow table: columns missing from a request are null;
    a column whose types differ between requests is kept as text."""
    import pyarrow as pa

    tables = []
    for columns, predictions, version, at in parts:
        names = set(columns)
        data: dict[str, Any] = {name: pa.array(values) for name, values in columns.items()}
        count = len(predictions)
        data[_free("prediction", names)] = pa.array(predictions)
        data[_free("version", names)] = pa.array([version] * count, pa.int64())
        data[_free("logged_at", names)] = pa.array([at] * count, pa.timestamp("us", tz="UTC"))
        tables.append(pa.table(data))
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        textual = [
            pa.table(
                {
                    name: column if name in OUTPUT_COLUMNS[1:] else column.cast(pa.string())
                    for name, column in zip(table.column_names, table.columns, strict=True)
                }
            )
            for table in tables
        ]
        return pa.concat_tables(textual, promote_options="permissive")


class PredictionLog:
    """The buffers of one process, and the daemon thread that turns them into datasets."""

    def __init__(self, database: Database, store: DatasetStore, settings: ServingSettings) -> None:
        self.database = database
        self.store = store
        self.settings = settings
        self.buffers: dict[str, _Buffer] = {}
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(
        self, model: str, version: int, columns: dict[str, np.ndarray], predictions: np.ndarray
    ) -> None:
        """Keep one request's rows (quick: no copy, no conversion)."""
        count = len(predictions)
        with self.lock:
            buffer = self.buffers.setdefault(model, _Buffer())
            if buffer.rows + count > self.settings.log_max_buffered_rows:
                buffer.dropped += count
                return
            if not buffer.parts:
                buffer.since = time.monotonic()
            buffer.parts.append((columns, predictions, version, utcnow()))
            buffer.rows += count
            full = buffer.rows >= self.settings.log_batch_rows
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="modelyard-prediction-log", daemon=True
                )
                self._thread.start()
        if full:
            self._wake.set()

    def buffered(self, model: str) -> tuple[int, int]:
        """Rows of ``model`` waiting in this process, and rows dropped since the start."""
        with self.lock:
            buffer = self.buffers.get(model)
            return (buffer.rows, buffer.dropped) if buffer else (0, 0)

    def flush(self, model: str) -> DatasetOut | None:
        """Turn this process's rows of ``model`` into a dataset now; None if there were none.

        Blocking (it writes a file and commits a row): call it from a worker thread. On a
        failure the error is raised and the rows go back into the buffer (as far as it has
        room), unless they were refused.
        """
        with self.lock:
            buffer = self.buffers.get(model)
            if buffer is None or not buffer.parts:
                return None
            parts, rows = buffer.parts, buffer.rows
            buffer.parts, buffer.rows = [], 0
        try:
            return self._register(model, parts, rows)
        except BaseException as exc:
            # refused (a 4xx: the rows themselves, or a model deleted meanwhile) would be
            # refused again: those rows are dropped; anything else is retried
            refused = isinstance(exc, ProblemError) and exc.status_code < 500
            with self.lock:
                buffer = self.buffers.setdefault(model, _Buffer())
                if not refused and buffer.rows + rows <= self.settings.log_max_buffered_rows:
                    buffer.parts[:0] = parts
                    buffer.rows += rows
                    buffer.since = time.monotonic()
                else:
                    buffer.dropped += rows
            raise

    def _register(
        self,
        model: str,
        parts: list[tuple[dict[str, np.ndarray], np.ndarray, int, dt.datetime]],
        rows: int,
    ) -> DatasetOut:
        import pyarrow.parquet as pq

        from modelyard.datasets import service as datasets
        from modelyard.datasets.formats import merge_claims

        table = _table(parts)
        first, last = parts[0][3], parts[-1][3]
        path = self.store.temp_path("parquet")
        try:
            pq.write_table(table, str(path), compression="snappy")
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            stamp = first.strftime("%Y%m%dT%H%M%SZ")
            name = f"{model[:150]}.predictions.{stamp}.{secrets.token_hex(2)}"
            return datasets.register_file(
                self.database,
                self.store,
                path,
                sha256=digest.hexdigest(),
                size=path.stat().st_size,
                filename=f"{name}.parquet",
                name=name,
                description=(
                    f"Predictions of {model}: {rows} rows of {len(parts)} requests, "
                    f"{first.isoformat(timespec='seconds')} to "
                    f"{last.isoformat(timespec='seconds')}."
                ),
                claims=merge_claims(f"{name}.parquet", "parquet", None),
                actor="prediction-log",
            )
        finally:
            self.store.discard(path)

    def flush_due(self, *, everything: bool = False) -> int:
        """Flush every buffer that is full or old enough (or, at the end, every one)."""
        now = time.monotonic()
        with self.lock:
            due = [
                model
                for model, buffer in self.buffers.items()
                if buffer.parts
                and (
                    everything
                    or buffer.rows >= self.settings.log_batch_rows
                    or now - buffer.since >= self.settings.log_flush_seconds
                )
            ]
        flushed = 0
        for model in due:
            try:
                if self.flush(model) is not None:
                    flushed += 1
            except Exception:  # the store or database away: the rows wait for the next try
                log.exception("logging the predictions of %s failed; retrying later", model)
        return flushed

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(WAKE_SECONDS)
            self._wake.clear()
            if not self._stop.is_set():
                self.flush_due()

    def close(self) -> None:
        """Stop the thread and flush what is left (the server is stopping)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush_due(everything=True)
