"""Input and output shapes of the target endpoints, and each kind's configuration."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from modelyard.targets.embedded.workload import WorkloadSpec

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"
METRIC_PATTERN = r"^[a-z][a-z0-9_]{0,80}(\.[a-z0-9_]{1,40})?$"
TargetKind = Literal["rocksdb-embedded", "db_bench", "prometheus", "push"]
MetricName = Annotated[str, StringConstraints(pattern=METRIC_PATTERN)]
PushedName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class EmbeddedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workload: WorkloadSpec = Field(
        default_factory=WorkloadSpec,
        description="The phases of reads and writes, and the RocksDB options.",
    )


class DbBenchTargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmark: Literal["fillrandom", "fillseq", "overwrite"] = Field(
        default="fillrandom",
        description="The db_bench benchmark run: fillrandom, fillseq or overwrite.",
    )
    duration_seconds: int = Field(
        30, ge=1, le=3600, description="db_bench --duration; the run stops then"
    )
    args: str = Field(
        "",
        max_length=2000,
        pattern=r"^[A-Za-z0-9_=.,:/+ -]*$",
        description="Further db_bench flags (`--value_size=400 --write_buffer_size=8388608`); "
        "--db, --benchmarks, --duration and the reporting flags are set by modelyard.",
    )


class PrometheusMetric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(
        pattern=r"^[A-Za-z_:][A-Za-z0-9_:]{0,200}$",
        description="Exposed metric name (sample name).",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Label values a sample must have."
    )
    type: Literal["gauge", "rate"] = Field(
        "gauge", description="`rate`: per-second increase of a counter."
    )
    scale: float = Field(1.0, description="Multiply the value (unit conversion).")


class PrometheusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000,
        pattern=r"^https?://[^\s/?#@]+(/[^\s]*)?$",
        description="The /metrics URL to scrape (http or https); its host must be allowed by "
        "the `live.scrape_hosts` setting (loopback only by default).",
    )
    metrics: dict[MetricName, PrometheusMetric] = Field(
        min_length=1,
        max_length=200,
        description="Product metric -> the Prometheus series it is read from.",
    )
    configuration: dict[str, Any] = Field(
        default_factory=dict, description="Workload and options for the model."
    )
    timeout_seconds: float = Field(2.0, gt=0, le=60, description="Longest wait for one scrape.")


class PushConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configuration: dict[str, Any] = Field(
        default_factory=dict, description="Workload and options for the model."
    )


CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "rocksdb-embedded": EmbeddedConfig,
    "db_bench": DbBenchTargetConfig,
    "prometheus": PrometheusConfig,
    "push": PushConfig,
}


class _TargetCreateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=NAME_PATTERN, description="Unique name: letters, digits, _ . -; 1-200 chars."
    )
    interval_seconds: float = Field(
        1.0, ge=0.2, le=3600, description="Seconds between two samples."
    )
    start: bool = Field(True, description="Follow it right away.")


class EmbeddedTargetCreate(_TargetCreateBase):
    kind: Literal["rocksdb-embedded"] = Field(
        description="An embedded RocksDB this server drives with a workload."
    )
    config: EmbeddedConfig = Field(
        default_factory=EmbeddedConfig, description="The workload to run."
    )


class DbBenchTargetCreate(_TargetCreateBase):
    kind: Literal["db_bench"] = Field(description="A db_bench process this server runs and parses.")
    config: DbBenchTargetConfig = Field(
        default_factory=DbBenchTargetConfig, description="The db_bench run."
    )


class PrometheusTargetCreate(_TargetCreateBase):
    kind: Literal["prometheus"] = Field(description="A system whose metrics this server scrapes.")
    config: PrometheusConfig = Field(description="Where to scrape and which series.")


class PushTargetCreate(_TargetCreateBase):
    kind: Literal["push"] = Field(
        description="A system that pushes its metrics to /api/targets/{id}/push."
    )
    config: PushConfig = Field(
        default_factory=PushConfig, description="The configuration its predictions are made for."
    )


TargetCreate = Annotated[
    EmbeddedTargetCreate | DbBenchTargetCreate | PrometheusTargetCreate | PushTargetCreate,
    Field(discriminator="kind"),
]


class TargetOut(BaseModel):
    id: int = Field(description="The target's id.")
    name: str = Field(description="Its unique name.")
    kind: str = Field(description="rocksdb-embedded, db_bench, prometheus or push.")
    interval_seconds: float = Field(description="Seconds between two samples.")
    config: dict[str, Any] = Field(description="Its configuration (see the kind's create schema).")
    desired_state: str = Field(description="running or stopped, as asked.")
    status: str = Field(
        description="What it is doing: starting, running, stalled, stopped or failed."
    )
    status_reason: str = Field(description="Why, when it is not running.")
    status_changed_at: dt.datetime = Field(description="When the status last changed (UTC).")
    last_sample_at: dt.datetime | None = Field(description="When its last sample arrived (UTC).")
    created_by: str = Field(description="The user who made it.")
    created_at: dt.datetime = Field(description="When it was made (UTC).")


class TargetPage(BaseModel):
    items: list[TargetOut] = Field(description="Targets, newest first.")


MAX_UNIX_SECONDS = 1e11
"""About the year 5000: a time past it is not a time this server can store in milliseconds."""
MetricValue = Annotated[float, Field(ge=-1e18, le=1e18)]
"""Finite and within what sums and squares of a window's samples keep finite."""


class PushSample(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    t: Annotated[float, Field(ge=0, le=MAX_UNIX_SECONDS)] | dt.datetime = Field(
        description="Unix seconds or an ISO 8601 time."
    )
    metrics: dict[PushedName, MetricValue] = Field(
        max_length=500, description="Metric name -> value at time `t`."
    )


class PushBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[PushSample] = Field(min_length=1, max_length=50_000)


class PushAccepted(BaseModel):
    accepted_points: int = Field(description="Metric values stored.")
    samples: int = Field(description="Samples in the batch.")
    skipped_samples: int = Field(
        0, description="Samples outside the accepted time range (last 24 h to 5 min ahead)."
    )
