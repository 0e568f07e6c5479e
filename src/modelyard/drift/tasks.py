"""The ``drift`` job: compare a reference and a current dataset column by column.

Progress is reported after every column (to the job; the check's row at most once a
second), and every record batch read is a checkpoint: a cancel stops the loop there and
the check ends ``cancelled``.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from modelyard.auth.schemas import Role
from modelyard.datasets.store import DatasetStore
from modelyard.drift import service
from modelyard.drift.schemas import DriftSummary
from modelyard.jobs import JobContext, job_kind

PROGRESS_WRITE_SECONDS = 1.0


class DriftJobParams(BaseModel):
    drift_id: int


@job_kind(
    "drift",
    min_role=Role.editor,
    retryable=False,
    max_retries=0,
    timeout_seconds=3600,
    params_model=DriftJobParams,
)
def run_drift(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Compare two datasets' distributions column by column (submit through POST /api/drift)."""
    drift_id = int(params["drift_id"])
    with ctx.session() as session:
        reference, current, columns, options = service.start(
            session, drift_id, ctx.job_id, datasets=DatasetStore.of(ctx.store, ctx.settings)
        )
    # numpy, scipy and pyarrow load with the first drift check, not with the server.
    from modelyard.drift import detector

    last_write = [time.monotonic()]

    def progress(done: int, total: int, column: str) -> None:
        ctx.progress(
            done / total if total else 1.0,
            phase="compare",
            message=f"column {done}/{total}: {column}",
        )
        now = time.monotonic()
        if now - last_write[0] >= PROGRESS_WRITE_SECONDS:
            last_write[0] = now
            with ctx.session() as session:
                service.record_progress(session, drift_id, done, total)

    with ctx.settles(
        end=lambda session, status, error: service.end(session, drift_id, status, error),
        requeue=lambda session: service.requeue(session, drift_id),
    ):
        ctx.progress(0.0, phase="compare", message=f"{len(columns)} columns")
        started = time.perf_counter()
        outcome = detector.detect(
            reference,
            current,
            columns,
            options,
            progress=progress,
            checkpoint=ctx.check_cancelled,
        )
        outcome["summary"]["seconds"] = round(time.perf_counter() - started, 6)
    with ctx.session() as session:
        service.complete(
            session, drift_id, outcome["columns"], DriftSummary.model_validate(outcome["summary"])
        )
    summary: dict[str, Any] = outcome["summary"]
    return {"drift_id": drift_id, **summary}
