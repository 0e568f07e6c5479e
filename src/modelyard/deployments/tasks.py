"""Job kinds of the live domain: the tuning experiment, run by a worker.

The live loops themselves are not jobs: they run for as long as a target is followed, so the
app's lifespan (``modelyard serve``) or ``modelyard live run`` owns them (see
:mod:`modelyard.deployments.live`). A job has a beginning and an end; the experiment does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from modelyard.auth.schemas import Role
from modelyard.jobs import JobContext, job_kind


class ExperimentParams(BaseModel):
    value_before: int = Field(100, ge=16, le=65536)
    value_after: int = Field(1000, ge=16, le=65536)
    calibrate_seconds: float = Field(20.0, ge=5, le=600)
    before_seconds: float = Field(15.0, ge=5, le=600)
    after_seconds: float = Field(60.0, ge=10, le=1200)
    window_intervals: int = Field(10, ge=1, le=120)


@job_kind(
    "live_experiment",
    min_role=Role.editor,
    retryable=False,
    timeout_seconds=1800,
    params_model=ExperimentParams,
    description="Shift a live RocksDB workload under a frozen and an auto-tuned deployment.",
)
def live_experiment(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from modelyard.deployments.experiment import run_experiment
    from modelyard.kit.db import Database
    from modelyard.monitoring.store import MetricStore

    db = Database(ctx.settings.resolved_database_url)
    steps = iter((0.05, 0.35, 0.95))
    try:
        result = run_experiment(
            db,
            MetricStore(db.engine),
            ctx.settings.home,
            blobs=ctx.store,
            actor=ctx.actor,
            progress=lambda message: ctx.progress(
                next(steps, None), phase="experiment", message=message
            ),
            wait=ctx.wait,
            cache=ctx.cache,
            **params,
        )
    finally:
        db.dispose()
    return result.to_dict()
