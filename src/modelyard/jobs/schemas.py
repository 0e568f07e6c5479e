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
    phase: str | None = None
    message: str | None = None
    eta_seconds: float | None = Field(None, description="Estimated seconds left.")


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: JobStatus
    priority: int = Field(description="0-100: low 0, normal 50, high 75, urgent 100.")
    params: dict[str, Any]
    attempts: int = Field(description="How many times a worker has started the job.")
    progress: JobProgress
    result: Any | None = None
    error: str | None = None
    submitted_by: str | None = Field(None, description="User name; null for system jobs.")
    cancel_requested: bool = False
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class JobSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=KIND_PATTERN, description="A kind listed by GET /api/jobs/kinds.")
    params: dict[str, Any] = Field(default_factory=dict)
    priority: PriorityName | Annotated[int, Field(strict=True, ge=0, le=100)] = Field(
        "normal", description="low, normal, high, urgent or an integer 0-100."
    )


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class JobKindOut(BaseModel):
    name: str
    description: str
    min_role: Role
    retryable: bool
    max_retries: int
    timeout_seconds: float | None
    params_schema: dict[str, Any] | None
