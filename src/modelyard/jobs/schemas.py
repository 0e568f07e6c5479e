"""Input and output shapes of the jobs API, and the named priority levels."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelyard.auth.schemas import Role
from modelyard.jobs.kinds import KIND_PATTERN

PRIORITY_LEVELS: dict[str, int] = {"low": 0, "normal": 50, "high": 75, "urgent": 100}
MIN_PRIORITY, MAX_PRIORITY = 0, 100
PriorityName = Literal["low", "normal", "high", "urgent"]


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})
ACTIVE = frozenset({JobStatus.queued, JobStatus.running})


class JobProgress(BaseModel):
    fraction: float | None = Field(None, description="0..1; null before the first report.")
    phase: str | None = Field(None, description="What the job is doing, e.g. `predict`.")
    message: str | None = Field(None, description="A line for people, e.g. `chunk 3/10`.")
    eta_seconds: float | None = Field(None, description="Estimated seconds left.")


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The job's id.")
    kind: str = Field(description="Its kind (GET /api/jobs/kinds).")
    status: JobStatus = Field(description="queued, running, succeeded, failed or cancelled.")
    priority: int = Field(description="0-100: low 0, normal 50, high 75, urgent 100.")
    params: dict[str, Any] = Field(description="The parameters it was submitted with.")
    attempts: int = Field(description="How many times a worker has started the job.")
    progress: JobProgress = Field(description="How far it is.")
    result: Any | None = Field(None, description="What it returned, once succeeded.")
    error: str | None = Field(None, description="Why it failed.")
    submitted_by: str | None = Field(None, description="User name; null for system jobs.")
    cancel_requested: bool = Field(
        False, description="A cancel was asked for; a running job stops at its next checkpoint."
    )
    created_at: dt.datetime = Field(description="When it was submitted (UTC).")
    updated_at: dt.datetime = Field(description="When its state last changed (UTC).")
    started_at: dt.datetime | None = Field(None, description="When a worker last started it (UTC).")
    finished_at: dt.datetime | None = Field(None, description="When it ended (UTC).")


class JobSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=KIND_PATTERN, description="A kind listed by GET /api/jobs/kinds.")
    params: dict[str, Any] = Field(
        description="The kind's parameters (its params_schema).", default_factory=dict
    )
    priority: PriorityName | Annotated[int, Field(strict=True, ge=0, le=100)] = Field(
        "normal", description="low, normal, high, urgent or an integer 0-100."
    )


class JobPage(BaseModel):
    items: list[JobOut] = Field(description="This page's jobs, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class JobKindOut(BaseModel):
    name: str = Field(description="The kind's name.")
    description: str = Field(description="What it does.")
    min_role: Role = Field(description="The least role that may submit it.")
    retryable: bool = Field(description="Whether a failure is retried automatically.")
    max_retries: int = Field(description="How many times.")
    timeout_seconds: float | None = Field(description="Its time limit; null for none.")
    params_schema: dict[str, Any] | None = Field(
        description="The JSON schema of its parameters, if it declares one."
    )
