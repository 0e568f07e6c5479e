"""Built-in job kinds: ``sleep``, an admin-only diagnostic for operators and tests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelyard.auth.schemas import Role
from modelyard.jobs.context import JobContext
from modelyard.jobs.kinds import job_kind


class SleepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(1.0, ge=0, le=86_400, description="Total time to sleep.")
    steps: int = Field(10, ge=0, le=100_000, description="Progress reports, evenly spaced.")
    fail_times: int = Field(0, ge=0, le=100, description="Fail this many first attempts.")


@job_kind(
    "sleep",
    min_role=Role.admin,
    retryable=True,
    max_retries=3,
    params_model=SleepParams,
)
def sleep(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Sleep, report progress, optionally fail the first attempts (a diagnostic)."""
    p = SleepParams.model_validate(params)
    if ctx.attempt <= p.fail_times:
        raise RuntimeError(
            f"failing on purpose: attempt {ctx.attempt} of fail_times={p.fail_times}"
        )
    if p.steps == 0:
        if p.seconds:
            ctx.wait(p.seconds)
        return {"seconds": p.seconds, "steps": 0, "attempt": ctx.attempt}
    for step in range(1, p.steps + 1):
        if p.seconds:
            ctx.wait(p.seconds / p.steps)
        ctx.progress(step / p.steps, phase="sleep", message=f"step {step}/{p.steps}")
    return {"seconds": p.seconds, "steps": p.steps, "attempt": ctx.attempt}
