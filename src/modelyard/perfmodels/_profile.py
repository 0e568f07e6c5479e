"""The machine profile: what calibration measured once on a machine, in SI units.

CPU costs are CPU-seconds (not wall seconds) per record or per byte; bandwidths are bytes per
second. Costs are kept per compression type because compressing and decompressing is CPU work
per byte that differs by algorithm; an unknown type falls back to `"default"`.
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
        return _pick(self.compaction_costs, compression)

    def flush_cost(self, compression: str) -> CpuCost:
        return _pick(self.flush_costs, compression)

    def foreground_cpu_per_op(self, entry_bytes: float, threads: int = 1) -> float:
        extra = self.foreground_cpu_sec_per_op_concurrent if threads > 1 else 0.0
        return (
            self.foreground_cpu_sec_per_op + self.foreground_cpu_sec_per_byte * entry_bytes + extra
        )

    @property
    def envelope(self) -> DeviceEnvelope:
        return self.device if self.device is not None else NOTES_ENVELOPE


def _pick(costs: dict[str, CpuCost], compression: str) -> CpuCost:
    key = compression.lower()
    if key in {"no", "nocompression"}:
        key = "none"
    if key in costs:
        return costs[key]
    if "default" in costs:
        return costs["default"]
    if "snappy" in costs and key != "none":
        return costs["snappy"]
    return next(iter(costs.values()))
