"""The embedded target's workload: phases of a put/get/scan mix, key and value sizes, a rate.

A phase runs ``threads`` client threads (sharing the rate) for ``duration_seconds`` (60 by default; 0: for ever) at ``rate`` operations per
second (1,000 by default), or open-loop at the maximum when ``rate`` is null. After the last
phase the workload stops (``then="stop"``, the default) or holds it (``then="hold"``): a target
that should run until someone stops it says so. ``options`` are the RocksDB options the
database is opened with; they are part of the configuration a deployment's model reads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Phase", "RocksDbOptions", "WorkloadSpec"]


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100, description="A label shown on the charts.")
    duration_seconds: float = Field(
        default=60.0, ge=0, le=7 * 86400, description="0: until the workload changes (forever)"
    )
    rate: float | None = Field(
        default=1000.0, gt=0, le=10_000_000, description="ops/s; null = open-loop maximum"
    )
    put_fraction: float = Field(default=1.0, ge=0, le=1, description="weight of puts")
    get_fraction: float = Field(default=0.0, ge=0, le=1, description="weight of point reads")
    scan_fraction: float = Field(default=0.0, ge=0, le=1, description="weight of short scans")
    scan_length: int = Field(default=10, ge=1, le=10_000, description="keys per short scan")
    key_size: int = Field(default=16, ge=8, le=1024, description="bytes per key")
    value_size: int = Field(default=100, ge=0, le=1 << 20, description="bytes per value")
    value_size_max: int | None = Field(
        default=None,
        ge=0,
        le=1 << 20,
        description="uniform in [value_size, value_size_max] (ignored when not larger)",
    )
    key_space: int = Field(
        default=1_000_000, ge=1, le=1 << 40, description="distinct keys written and read"
    )
    key_distribution: Literal["uniform", "zipfian"] = Field(
        default="uniform",
        description="zipfian: a few hot keys (YCSB's scrambled Zipfian, skew ``zipf_theta``)",
    )
    zipf_theta: float = Field(default=0.99, gt=0, lt=1, description="Zipfian skew")
    threads: int = Field(default=1, ge=1, le=64, description="client threads issuing operations")
    batch_size: int = Field(default=100, ge=1, le=10_000, description="puts per WriteBatch")

    @model_validator(mode="after")
    def _check(self) -> Phase:
        total = self.put_fraction + self.get_fraction + self.scan_fraction
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"put, get and scan fractions must add up to 1 (they add up to {total:g})"
            )
        if self.value_size_max is not None and self.value_size_max < self.value_size:
            raise ValueError("value_size_max must be at least value_size")
        return self

    @property
    def mean_value_size(self) -> float:
        if self.value_size_max is None:
            return float(self.value_size)
        return (self.value_size + self.value_size_max) / 2.0


class RocksDbOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    write_buffer_size: int = Field(
        default=4 << 20, ge=64 << 10, le=1 << 30, description="bytes of one memtable"
    )
    max_write_buffer_number: int = Field(
        default=2, ge=2, le=16, description="memtables kept before writes stall"
    )
    max_background_jobs: int = Field(
        default=2, ge=1, le=32, description="flush and compaction threads"
    )
    level0_file_num_compaction_trigger: int = Field(
        default=4, ge=1, le=100, description="L0 files that start a compaction"
    )
    level0_slowdown_writes_trigger: int = Field(
        default=20, ge=1, le=1000, description="L0 files at which writes slow down"
    )
    level0_stop_writes_trigger: int = Field(
        default=36, ge=1, le=1000, description="L0 files at which writes stop"
    )
    target_file_size_base: int = Field(
        default=64 << 20, ge=64 << 10, le=1 << 32, description="bytes of an SST file at level 1"
    )
    max_bytes_for_level_base: int = Field(
        default=256 << 20, ge=1 << 20, le=1 << 40, description="bytes of level 1"
    )
    compression: Literal["none", "snappy", "lz4", "zstd"] = Field(
        default="none", description="none, snappy, lz4 or zstd"
    )


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phases: list[Phase] = Field(
        default_factory=lambda: [Phase()],
        min_length=1,
        max_length=100,
        description="run one after the other",
    )
    then: Literal["hold", "stop"] = Field(
        "stop", description="after the last phase: stop, or hold it (run on until stopped)"
    )
    options: RocksDbOptions = Field(
        default_factory=RocksDbOptions,
        description="the RocksDB options the database is opened with",
    )
    seed: int = Field(default=0, description="of the key and value generator")

    def phase_at(self, elapsed: float) -> tuple[int, Phase] | None:
        """The phase running ``elapsed`` seconds after the start (None once stopped)."""
        start = 0.0
        for index, phase in enumerate(self.phases):
            if phase.duration_seconds <= 0 or elapsed < start + phase.duration_seconds:
                return index, phase
            start += phase.duration_seconds
        return (len(self.phases) - 1, self.phases[-1]) if self.then == "hold" else None
