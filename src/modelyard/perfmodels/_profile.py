"""The machine profile: what calibration measured on a machine, in SI units, with its spread.

CPU costs are CPU-seconds (not wall seconds) per record or per byte; bandwidths are bytes per
second. Compaction and flush costs are kept per compression type (none, snappy, lz4, zstd)
because compressing and decompressing is CPU work per byte that differs by algorithm; a type the
profile has no costs for is refused (`MissingCompressionError`), never borrowed from another.

What a calibration showed moves between days on a shared virtual machine is the speed of a
CPU-second (writer CPU per put 4.4 µs one day, 8.1 µs another, for the same run) and the cores
db_bench gets at its priority; within a day the costs repeat within a few percent whatever the
run's length or rate. So a profile keeps, beside the costs:

- `cpu_speed_ns_per_iteration`: a reference loop's CPU time per iteration measured beside the
  calibration runs; a prediction given a fresh sample of it scales every CPU cost by the ratio;
- `availability`: the cores spinners at db_bench's priority got before each calibration run
  (median and quantiles) and how the cores a closed run then used compare with that sample;
- `spread`: the relative scatter of the measured per-run costs around the fitted ones, which
  (with the availability spread) gives the prediction intervals.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CpuCost(BaseModel):
    """cost = cpu_sec_per_record * records + cpu_sec_per_byte * bytes (read + written)."""

    cpu_sec_per_record: float = Field(..., ge=0.0)
    cpu_sec_per_byte: float = Field(..., ge=0.0)

    def seconds(self, records: float, nbytes: float) -> float:
        return self.cpu_sec_per_record * records + self.cpu_sec_per_byte * nbytes


class DeviceEnvelope(BaseModel):
    """Bandwidths measured with fio (`--direct=1 --ioengine=libaio`), bytes per second."""

    seq_write_bytes_per_sec: float
    seq_read_bytes_per_sec: float
    mixed_read_bytes_per_sec: float = Field(..., description="1 MiB 50/50 mix, read side")
    mixed_write_bytes_per_sec: float = Field(..., description="1 MiB 50/50 mix, write side")
    rand_write_bytes_per_sec: float = Field(..., description="4 KiB random write")
    discard: bool = Field(
        False, description="the file system discards deleted files' blocks (online discard)"
    )

    def write_capacity(self, read_fraction: float) -> float:
        """Total bytes/s the device sustains for a read share, interpolated on the envelope.

        0 -> sequential write, 0.5 -> the measured 50/50 mix, 1 -> sequential read.
        """
        mixed = self.mixed_read_bytes_per_sec + self.mixed_write_bytes_per_sec
        f = min(max(read_fraction, 0.0), 1.0)
        if f <= 0.5:
            return self.seq_write_bytes_per_sec + (mixed - self.seq_write_bytes_per_sec) * f / 0.5
        return mixed + (self.seq_read_bytes_per_sec - mixed) * (f - 0.5) / 0.5


# The fio figures measured on these machines (ROCKSDB_NOTES.md), used only when a profile has no
# envelope of its own.
NOTES_ENVELOPE = DeviceEnvelope(
    seq_write_bytes_per_sec=1783 * 2**20,
    seq_read_bytes_per_sec=1372 * 2**20,
    mixed_read_bytes_per_sec=525 * 2**20,
    mixed_write_bytes_per_sec=525 * 2**20,
    rand_write_bytes_per_sec=170 * 2**20,
)


class MissingCompressionError(ValueError):
    """The profile has no costs for a compression type."""


class AvailabilityStats(BaseModel):
    """Cores a prioritised spinner got over 2 s, sampled before each calibration run."""

    median_cores: float = Field(..., gt=0.0)
    p10_cores: float = Field(..., gt=0.0)
    p90_cores: float = Field(..., gt=0.0)
    samples: int = 0
    median_single_thread_cores: float | None = Field(
        None, gt=0.0, description="what one spinner alone got (one thread's ceiling)"
    )
    # cores the closed calibration runs used / the sample taken just before each of them
    closed_use_ratio: float = Field(1.0, gt=0.0)
    closed_use_ratio_sigma: float = Field(0.0, ge=0.0, description="std of its logarithm")


class CostSpread(BaseModel):
    """Relative scatter (std of log(measured / fitted)) of each per-run cost."""

    writer: float = 0.0
    flush: float = 0.0
    compaction: float = 0.0
    speed: float = Field(0.0, description="of the reference loop between samples")


class Profile(BaseModel):
    """One machine's calibration: CPU costs, CPU availability and the device envelope."""

    name: str = "default"
    created_at: str | None = None
    cores: int = Field(2, ge=1)
    cpu_available_cores: float = Field(2.0, gt=0.0, description="typical cores db_bench can use")
    foreground_cpu_sec_per_op: float = Field(
        ..., ge=0.0, description="writer-thread CPU per put, fixed part"
    )
    foreground_cpu_sec_per_byte: float = Field(
        0.0, ge=0.0, description="writer-thread CPU per byte of key+value"
    )
    foreground_cpu_sec_per_op_concurrent: float = Field(
        0.0, ge=0.0, description="extra CPU per put when several writer threads share the DB"
    )
    foreground_concurrency_factor: float = Field(
        0.0,
        ge=0.0,
        description="extra writer CPU per put, as a fraction, per writer thread beyond the first "
        "(followers spin while a leader writes the group: the longer the write, the more)",
    )
    foreground_cpu_sec_per_memtable_doubling: float = Field(
        0.0,
        ge=0.0,
        description="writer CPU per put per doubling of the entries a memtable holds "
        "(a deeper skiplist and more cache misses per insert)",
    )
    compressed_fraction: dict[str, float] = Field(
        default_factory=dict,
        description="SST bytes of a value / its raw bytes, per compression type (db_bench data)",
    )
    cpu_speed_ns_per_iteration: float | None = Field(
        None, description="reference loop's CPU time per iteration during the calibration"
    )
    availability: AvailabilityStats | None = None
    spread: CostSpread = Field(default_factory=CostSpread)
    budget: dict[str, Any] = Field(
        default_factory=dict, description="priority, CPUs and write limit it was measured under"
    )
    flush_costs: dict[str, CpuCost]
    compaction_costs: dict[str, CpuCost]
    compaction_io_sec_per_byte: float = Field(
        0.0,
        ge=0.0,
        description="wall time a compaction thread blocks (not on CPU) per byte written",
    )
    flush_io_sec_per_byte: float = Field(
        0.0, ge=0.0, description="wall time a flush thread blocks (not on CPU) per byte written"
    )
    correction_factor: float = Field(1.0, gt=0.0, description="multiplies every CPU capacity")
    device: DeviceEnvelope | None = None
    compaction_bytes_per_cpu_sec: float | None = Field(
        None, description="measured compaction I/O per CPU-second (for the v3/v5 family)"
    )
    calibration: dict[str, Any] = Field(default_factory=dict, description="runs and fit quality")

    def compaction_cost(self, compression: str) -> CpuCost:
        return _pick(self.compaction_costs, compression, self.name)

    def flush_cost(self, compression: str) -> CpuCost:
        return _pick(self.flush_costs, compression, self.name)

    def value_fraction(self, compression: str, configured_ratio: float = 0.5) -> float:
        """Fraction of a value's bytes an SST keeps: 1 uncompressed; measured per type (on
        db_bench's data, whose `--compression_ratio` default is 0.5) and scaled to the run's
        `--compression_ratio`; `configured_ratio` itself when the profile has no measurement."""
        key = _normal(compression)
        if key == "none":
            return 1.0
        measured = self.compressed_fraction.get(key)
        if measured is None:
            return configured_ratio
        return min(1.0, measured * configured_ratio / 0.5)

    @property
    def envelope(self) -> DeviceEnvelope:
        return self.device if self.device is not None else NOTES_ENVELOPE


def _normal(compression: str) -> str:
    key = compression.lower()
    return "none" if key in {"no", "nocompression"} else key


def _pick(costs: dict[str, CpuCost], compression: str, profile: str) -> CpuCost:
    key = _normal(compression)
    if key in costs:
        return costs[key]
    if "default" in costs:  # a generic prior: one cost for every type, by construction
        return costs["default"]
    raise MissingCompressionError(
        f"profile {profile!r} has no costs for compression {key!r} (it has "
        f"{', '.join(sorted(costs))}): calibrate again to measure it."
    )
