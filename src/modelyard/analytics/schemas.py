"""Output shapes of the analytics endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class LeaderboardEntry(BaseModel):
    rank: int = Field(description="1 for the best value.")
    model: str = Field(description="The model's name.")
    version: int = Field(description="The version's number.")
    value: float = Field(description="Its value of the metric on the dataset.")
    evaluation_id: int = Field(description="The evaluation that measured it.")
    evaluated_at: dt.datetime | None = Field(description="When that evaluation finished (UTC).")


class Leaderboard(BaseModel):
    dataset: str = Field(description="The dataset every entry was evaluated on.")
    metric: str = Field(description="The metric ranked.")
    direction: str = Field(description="lower or higher: which way is better.")
    entries: list[LeaderboardEntry] = Field(description="Each version's latest value, best first.")


class Period(BaseModel):
    start: dt.datetime
    end: dt.datetime
    days: list[str] = Field(description="Each day of the period, ISO dates.")


class Totals(BaseModel):
    models: int
    versions: int


class AliasMove(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    model: str
    alias: str | None
    to: int | None
    from_: int | None = Field(alias="from")
    by: str
    at: dt.datetime


class RegistryActivity(BaseModel):
    models_created: int
    versions_created: int
    changes: int
    active_users: list[str]
    alias_moves: list[AliasMove]


class BestOnDataset(BaseModel):
    dataset: str
    metric: str
    model: str
    version: int
    value: float
    evaluation_id: int
    candidates: int


class Regression(BaseModel):
    model: str
    dataset: str
    metric: str
    previous_version: int
    previous: float
    version: int
    value: float
    change_pct: float


class EvaluationSummary(BaseModel):
    total: int
    by_status: dict[str, int]
    per_day: dict[str, int]
    best_per_dataset: list[BestOnDataset]
    regressions: list[Regression]


class Percentiles(BaseModel):
    p50: float | None
    p95: float | None
    max: float | None


class JobFailure(BaseModel):
    id: int
    kind: str
    error: str


class JobSummary(BaseModel):
    total: int
    by_status: dict[str, int]
    by_kind: dict[str, int]
    queue_wait_seconds: Percentiles
    run_seconds: Percentiles
    per_day: dict[str, dict[str, int]]
    recent_failures: list[JobFailure]
    wait_samples: list[float] = Field(description="Queue waits for the chart; not stored.")


class DeploymentActivity(BaseModel):
    alerts: dict[str, int]
    switches: int


class DeploymentSummary(BaseModel):
    deployments: int
    alerts: int
    alerts_by_kind: dict[str, int]
    alerts_per_day: dict[str, dict[str, int]]
    switches: int
    by_deployment: dict[str, DeploymentActivity]


class PeriodSummary(BaseModel):
    """What a period report says: the registry's, evaluations', jobs' and deployments' activity."""

    period: Period
    totals: Totals
    registry: RegistryActivity
    evaluations: EvaluationSummary
    jobs: JobSummary
    deployments: DeploymentSummary
