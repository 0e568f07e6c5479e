"""The ``evaluation`` job: load the version's model, stream the dataset, store the metrics.

Progress is reported once per chunk (to the job; the evaluation's row at most once a second),
and each report is a checkpoint: a cancel stops the loop there and the evaluation ends
``cancelled``.

An evaluation is idempotent (it reads the dataset again from the start and writes its result
once), so the kind is retryable: a worker lost mid-run (``kill -9``) or a store that is away
for a moment costs an attempt and the job runs again, on any worker; the evaluation is back to
``queued`` meanwhile. A failure that another attempt cannot change (a model that does not fit
the data, a missing dataset: a 4xx) ends it at once with the reason.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from modelyard.auth.schemas import Role
from modelyard.datasets.store import DatasetStore
from modelyard.evaluations import service, warmup
from modelyard.evaluations._metrics import ROWS, ROWS_PER_SECOND
from modelyard.jobs import JobContext, job_kind
from modelyard.registry.artifacts import ArtifactStore

PROGRESS_WRITE_SECONDS = 1.0
"""The evaluation row's progress is written at most this often (the job's own progress, which
live clients follow, is reported every chunk)."""


class EvaluationJobParams(BaseModel):
    evaluation_id: int


@job_kind(
    "evaluation",
    min_role=Role.editor,
    retryable=True,
    max_retries=2,
    timeout_seconds=3600,
    params_model=EvaluationJobParams,
)
def run_evaluation(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Evaluate a model version on a dataset (submit through POST /api/evaluations)."""
    evaluation_id = int(params["evaluation_id"])
    settings = ctx.settings
    done = [0]

    def end(session: Session, status: str, error: str) -> None:
        service.end(session, evaluation_id, status, error, rows_done=done[0])

    # A failure another attempt cannot change (a model that does not fit the data: a 4xx)
    # ends the evaluation and the job at once; any other is retried while attempts remain.
    settles = partial(
        ctx.settles,
        end=end,
        requeue=lambda session: service.requeue(session, evaluation_id),
        final_client_errors=True,
    )
    with settles(), ctx.session() as session:
        resolved, plan = service.start(
            session, evaluation_id, ctx.job_id, datasets=DatasetStore.of(ctx.store, settings)
        )

    last_write = [-PROGRESS_WRITE_SECONDS]  # the first chunk's progress is written at once

    def progress(rows_done: int, rows_total: int, chunk: int, chunks: int) -> None:
        done[0] = rows_done
        ctx.progress(
            rows_done / rows_total if rows_total else 1.0,
            phase="predict",
            message=f"chunk {chunk}/{chunks}: {rows_done:,} of {rows_total:,} rows",
        )
        now = time.monotonic()
        if now - last_write[0] >= PROGRESS_WRITE_SECONDS:
            last_write[0] = now
            with ctx.session() as session:
                service.record_progress(session, evaluation_id, rows_done, rows_total)

    # In a `modelyard worker` a warm-up thread may be importing the flavors' libraries;
    # waiting for it keeps two threads from importing one package at once.
    warmup.wait()
    # numpy and pyarrow (about 40 MB) load with the first evaluation, not with the server.
    from modelyard.evaluations import runner

    with settles():
        ctx.progress(0.0, phase="load", message=f"loading {resolved.model}/{resolved.version}")
        loading = time.perf_counter()
        model = service.model_for(resolved, ArtifactStore.of(ctx.store, settings))
        load_seconds = time.perf_counter() - loading
        outcome = runner.run(model, plan, progress)
        outcome.details["load_seconds"] = round(load_seconds, 6)
    with ctx.session() as session:
        service.complete(session, evaluation_id, outcome)
    ROWS.labels(resolved.flavor).inc(outcome.rows)
    rows_per_second = outcome.details.get("rows_per_second")
    if isinstance(rows_per_second, int | float):
        ROWS_PER_SECOND.labels(resolved.flavor).set(rows_per_second)
    return {
        "evaluation_id": evaluation_id,
        "rows": outcome.rows,
        "skipped_rows": outcome.skipped,
        "rows_per_second": outcome.details.get("rows_per_second"),
        "metrics": outcome.metrics,
    }
