"""Input and output shapes of the deployment endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"
REF_PATTERN = (
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}(@[A-Za-z][A-Za-z0-9_-]{0,63}|/([0-9]{1,9}|latest))?$"
)


class DeploymentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    horizon_seconds: int = Field(
        10, ge=1, le=3600, description="run length the S_max simulation assumes"
    )
    cores_smoothing_seconds: float = Field(
        20.0, gt=0, le=3600, description="time constant of the smoothed CPU-available input"
    )
    window_intervals: int = Field(
        5, ge=1, le=3600, description="intervals per scored window (one configuration)"
    )
    error_threshold_pct: float = Field(25.0, gt=0, le=1000, description="alert above this |error|")
    error_intervals: int = Field(
        5, ge=1, le=10_000, description="...for this many saturated intervals in a row"
    )
    headroom_min: float = Field(
        1.2, gt=0, le=100, description="alert when S_max / offered falls under this"
    )
    headroom_intervals: int = Field(3, ge=1, le=10_000)
    tune_every: int = Field(5, ge=1, le=10_000, description="intervals between tuning adjustments")
    min_change_pct: float = Field(
        2.0, ge=0, le=100, description="smallest parameter change worth applying and recording"
    )
    forgetting: float = Field(0.9, gt=0.5, le=1.0, description="RLS forgetting factor")
    selection_window: int = Field(
        30, ge=3, le=10_000, description="recent errors kept per candidate"
    )
    selection_min: int = Field(
        5, ge=1, le=10_000, description="errors a candidate needs before it may serve"
    )
    selection_margin: float = Field(
        0.1, ge=0, le=1, description="a challenger must be this much better"
    )


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    target: str = Field(description="The target's name or id.")
    model: str = Field(
        pattern=REF_PATTERN, description="`name@alias` follows the alias; `name/3` pins a version."
    )
    candidates: list[str] = Field(
        default_factory=list, max_length=20, description="Further references for dynamic selection."
    )
    auto_tune: bool = False
    settings: DeploymentSettings = Field(default_factory=DeploymentSettings)


class DeploymentOut(BaseModel):
    id: int
    name: str
    target_id: int
    target: str
    model: str
    candidates: list[str]
    auto_tune: bool
    settings: dict[str, Any]
    status: str
    serving_version: str | None
    tuned_parameters: dict[str, Any]
    state: dict[str, Any]
    created_by: str
    created_at: dt.datetime
    stopped_at: dt.datetime | None


class DeploymentPage(BaseModel):
    items: list[DeploymentOut]


class SwitchOut(BaseModel):
    id: int
    at: dt.datetime
    from_version: str | None
    to_version: str | None
    reason: str
    detail: dict[str, Any]


class TuningRecordOut(BaseModel):
    id: int
    at: dt.datetime
    version: str | None
    parameters_before: dict[str, Any]
    parameters_after: dict[str, Any]
    evidence: dict[str, Any]
    error_before_pct: float | None
    error_after_pct: float | None


class AlertOut(BaseModel):
    id: int
    kind: str
    severity: str
    message: str
    detail: dict[str, Any]
    raised_at: dt.datetime
    resolved_at: dt.datetime | None


class SaveTuned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=10_000)
    alias: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$",
        description="Point this alias at the new version.",
    )
