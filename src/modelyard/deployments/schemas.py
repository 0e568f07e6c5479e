"""Input and output shapes of the deployment endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
        1.2, gt=0, le=100, description="alert when the p10 of S_max / offered falls under this"
    )
    headroom_intervals: int = Field(
        3, ge=1, le=10_000, description="...for this many intervals in a row."
    )
    error_resolve_pct: float | None = Field(
        None, gt=0, le=1000, description="resolve under this |error| (default 0.8 x the threshold)"
    )
    headroom_resolve: float | None = Field(
        None, gt=0, le=100, description="resolve at this p10 headroom (default 1.15 x the minimum)"
    )
    resolve_intervals: int = Field(
        3, ge=1, le=10_000, description="intervals on the safe side before an alert resolves"
    )
    min_open_seconds: float = Field(
        60.0, ge=0, le=86_400, description="an alert stays open at least this long"
    )
    tune_every: int = Field(5, ge=1, le=10_000, description="intervals between tuning adjustments")
    min_change_pct: float = Field(
        2.0, ge=0, le=100, description="smallest parameter change worth applying and recording"
    )
    forgetting: float = Field(0.9, gt=0.5, le=1.0, description="RLS forgetting factor")
    constraint_windows: int = Field(
        10,
        ge=1,
        le=100,
        description="recent unsaturated windows whose sustained rates tuning must respect",
    )
    constraint_margin_pct: float = Field(
        5.0, ge=0, le=100, description="how far above a violated sustained rate tuning moves"
    )
    selection_window: int = Field(
        30, ge=3, le=10_000, description="recent errors kept per candidate"
    )
    selection_min: int = Field(
        5, ge=1, le=10_000, description="errors a candidate needs before it may serve"
    )
    selection_margin: float = Field(
        0.1, ge=0, le=1, description="a challenger must be this much better"
    )

    @model_validator(mode="after")
    def _resolve_on_the_safe_side(self) -> DeploymentSettings:
        if self.error_resolve_pct is not None and self.error_resolve_pct > self.error_threshold_pct:
            raise ValueError("error_resolve_pct must not be above error_threshold_pct")
        if self.headroom_resolve is not None and self.headroom_resolve < self.headroom_min:
            raise ValueError("headroom_resolve must not be under headroom_min")
        return self


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=NAME_PATTERN, description="Unique name: letters, digits, _ . -; 1-200 chars."
    )
    target: str = Field(description="The target's name or id.")
    model: str = Field(
        pattern=REF_PATTERN, description="`name@alias` follows the alias; `name/3` pins a version."
    )
    candidates: list[str] = Field(
        default_factory=list, max_length=20, description="Further references for dynamic selection."
    )
    auto_tune: bool = Field(
        default=False,
        description="Adjust the serving version's parameters online, recording each change.",
    )
    settings: DeploymentSettings = Field(
        default_factory=DeploymentSettings,
        description="Simulation, alerting, tuning and selection settings.",
    )


class DeploymentOut(BaseModel):
    id: int = Field(description="The deployment's id.")
    name: str = Field(description="Its unique name.")
    target_id: int = Field(description="The live target's id.")
    target: str = Field(description="The live target's name.")
    model: str = Field(description="The reference it serves (`name@alias` follows the alias).")
    candidates: list[str] = Field(description="Further references competing to serve.")
    auto_tune: bool = Field(description="Whether parameters are tuned online.")
    settings: dict[str, Any] = Field(description="Its settings (see DeploymentSettings).")
    status: str = Field(description="running or stopped.")
    serving_version: str | None = Field(
        description="The version serving now (`name/3`); null before the first interval."
    )
    tuned_parameters: dict[str, Any] = Field(
        description="Parameters tuned so far, over the serving version's own."
    )
    state: dict[str, Any] = Field(
        description="The live loop's state: latest prediction, error and headroom."
    )
    created_by: str = Field(description="The user who made it.")
    created_at: dt.datetime = Field(description="When it was made (UTC).")
    stopped_at: dt.datetime | None = Field(
        description="When it was stopped (UTC); null while running."
    )


class DeploymentPage(BaseModel):
    items: list[DeploymentOut] = Field(description="Deployments, newest first.")


class SwitchOut(BaseModel):
    id: int = Field(description="The switch's id.")
    at: dt.datetime = Field(description="When the serving version changed (UTC).")
    from_version: str | None = Field(
        description="The version that served before; null at the start."
    )
    to_version: str | None = Field(description="The version serving after it.")
    reason: str = Field(description="Why: start, alias moved, or selection.")
    detail: dict[str, Any] = Field(description="The figures behind the decision.")


class TuningRecordOut(BaseModel):
    id: int = Field(description="The record's id.")
    at: dt.datetime = Field(description="When the change was applied (UTC).")
    version: str | None = Field(description="The version whose parameters changed.")
    parameters_before: dict[str, Any] = Field(description="Its parameters before the change.")
    parameters_after: dict[str, Any] = Field(description="Its parameters after the change.")
    evidence: dict[str, Any] = Field(description="The readings the change was fitted on.")
    error_before_pct: float | None = Field(description="Median |error| before, in percent.")
    error_after_pct: float | None = Field(
        description="Median |error| after, in percent; null until measured."
    )


class AlertOut(BaseModel):
    id: int = Field(description="The alert's id.")
    kind: str = Field(
        description="prediction_error, low_headroom, below_sustained_rate or target_down."
    )
    severity: str = Field(description="info, warning or critical.")
    message: str = Field(description="One sentence for people.")
    detail: dict[str, Any] = Field(description="The figures behind it.")
    raised_at: dt.datetime = Field(description="When it fired (UTC).")
    resolved_at: dt.datetime | None = Field(
        description="When it cleared (UTC); null while it holds."
    )
    count: int = Field(1, description="Firings grouped into this event (it cleared and came back).")
    last_raised_at: dt.datetime | None = Field(
        None, description="When it last fired again (UTC); null while it fired once."
    )


class SaveTuned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(
        default="", max_length=10_000, description="The new version's description."
    )
    alias: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$",
        description="Point this alias at the new version.",
    )
