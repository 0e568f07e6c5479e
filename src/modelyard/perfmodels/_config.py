"""The db_bench configuration: a typed view of a db_bench argument string with RocksDB 7.8 defaults.

Every S_max model reads a `DbBenchConfig`; the derived properties (bytes per operation, the
background thread split, the rate limit in operations per second) are where RocksDB's own rules
are encoded once.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024

# Bytes a put adds to the WriteBatch/WAL beyond key and value (header share, type, varint lengths,
# sequence number); measured: rocksdb.bytes.written / keys = 432 for 16 B keys and 400 B values.
WAL_OVERHEAD_BYTES = 16
# Bytes a memtable entry costs beyond key and value (skiplist node, internal key suffix);
# measured from flush_started: memory_usage / num_entries = 451 for 416 B of key and value.
MEMTABLE_OVERHEAD_BYTES = 35
# Bytes an SST entry costs beyond key and (compressed) value: the 8-byte internal key suffix,
# varints, index and block trailers; measured from table_file_creation: 423.8 B for 416 B.
SST_OVERHEAD_BYTES = 8

_INT_FIELDS = {
    "key_size",
    "value_size",
    "num",
    "duration",
    "threads",
    "write_buffer_size",
    "max_write_buffer_number",
    "min_write_buffer_number_to_merge",
    "level0_file_num_compaction_trigger",
    "level0_slowdown_writes_trigger",
    "level0_stop_writes_trigger",
    "max_bytes_for_level_base",
    "target_file_size_base",
    "target_file_size_multiplier",
    "num_levels",
    "max_background_jobs",
    "max_background_compactions",
    "max_background_flushes",
    "subcompactions",
    "benchmark_write_rate_limit",
    "delayed_write_rate",
    "soft_pending_compaction_bytes_limit",
    "hard_pending_compaction_bytes_limit",
    "seed",
}
_FLOAT_FIELDS = {"max_bytes_for_level_multiplier", "compression_ratio"}
_BOOL_FIELDS = {"disable_wal", "sync", "level_compaction_dynamic_level_bytes", "use_existing_db"}


class DbBenchConfig(BaseModel):
    """A db_bench write workload and the RocksDB options it sets (defaults: db_bench 7.8.3)."""

    model_config = ConfigDict(frozen=True)

    benchmarks: str = "fillrandom"
    key_size: int = Field(16, description="bytes")
    value_size: int = Field(100, description="bytes")
    num: int = Field(1_000_000, description="key space; operations when duration is 0")
    duration: int = Field(0, description="seconds; 0 means the run is bounded by num")
    threads: int = 1
    write_buffer_size: int = Field(64 * MIB, description="bytes per memtable")
    max_write_buffer_number: int = 2
    min_write_buffer_number_to_merge: int = 1
    level0_file_num_compaction_trigger: int = 4
    level0_slowdown_writes_trigger: int = 20
    level0_stop_writes_trigger: int = 36
    max_bytes_for_level_base: int = Field(256 * MIB, description="bytes")
    max_bytes_for_level_multiplier: float = 10.0
    target_file_size_base: int = Field(64 * MIB, description="bytes")
    target_file_size_multiplier: int = 1
    num_levels: int = 7
    max_background_jobs: int = 2
    max_background_compactions: int = -1
    max_background_flushes: int = -1
    subcompactions: int = 1
    compression_type: str = "snappy"
    compression_ratio: float = Field(0.5, description="fraction a value shrinks to when compressed")
    benchmark_write_rate_limit: int = Field(0, description="bytes/s of key+value; 0 = closed")
    delayed_write_rate: int = 8 * MIB
    soft_pending_compaction_bytes_limit: int = 64 * 1024 * MIB
    hard_pending_compaction_bytes_limit: int = 128 * 1024 * MIB
    disable_wal: bool = False
    sync: bool = False
    level_compaction_dynamic_level_bytes: bool = False
    use_existing_db: bool = False
    seed: int = 0
    extra: dict[str, str] = Field(default_factory=dict, description="flags not modelled")

    # -- derived quantities -------------------------------------------------------------------
    @property
    def entry_bytes(self) -> int:
        """Key plus value: what db_bench's rate limiter and the `ingest` counters count."""
        return self.key_size + self.value_size

    @property
    def wal_bytes_per_op(self) -> int:
        return 0 if self.disable_wal else self.entry_bytes + WAL_OVERHEAD_BYTES

    @property
    def memtable_bytes_per_op(self) -> int:
        return self.entry_bytes + MEMTABLE_OVERHEAD_BYTES

    @property
    def compressed(self) -> bool:
        return self.compression_type.lower() not in {"none", "no", "nocompression"}

    @property
    def sst_bytes_per_entry(self) -> float:
        """Bytes one entry takes in an SST file (values shrink by compression_ratio)."""
        value = self.value_size * (self.compression_ratio if self.compressed else 1.0)
        return self.key_size + SST_OVERHEAD_BYTES + value

    @property
    def entries_per_memtable(self) -> float:
        return self.write_buffer_size / self.memtable_bytes_per_op

    @property
    def flush_file_bytes(self) -> float:
        """Size of the L0 file one memtable flush writes."""
        return self.entries_per_memtable * self.sst_bytes_per_entry

    @property
    def flush_threads(self) -> int:
        """RocksDB 7.8 GetBGJobLimits: a quarter of max_background_jobs, at least one."""
        if self.max_background_flushes == -1 and self.max_background_compactions == -1:
            return max(1, self.max_background_jobs // 4)
        return max(1, self.max_background_flushes)

    @property
    def compaction_threads(self) -> int:
        """Compactions that may run at once when RocksDB parallelizes (under write pressure)."""
        if self.max_background_flushes == -1 and self.max_background_compactions == -1:
            return max(1, self.max_background_jobs - self.flush_threads)
        return max(1, self.max_background_compactions)

    @property
    def rate_limit_ops(self) -> float:
        """db_bench's --benchmark_write_rate_limit in operations per second (0 = unthrottled)."""
        return self.benchmark_write_rate_limit / self.entry_bytes

    def unique_keys(self, operations: float) -> float:
        """Expected distinct keys after `operations` uniform random puts over `num` keys."""
        if self.benchmarks.startswith("fillseq"):
            return min(operations, float(self.num))
        return float(self.num) * (1.0 - math.exp(-operations / max(1, self.num)))

    def operations_at(self, ops_per_sec: float) -> float:
        """Operations the run performs at a given rate: duration-bound or num-bound."""
        if self.duration > 0:
            return ops_per_sec * self.duration
        return float(self.num)

    def run_seconds_at(self, ops_per_sec: float) -> float:
        if self.duration > 0:
            return float(self.duration)
        return self.num / max(ops_per_sec, 1e-9)

    def level_target_bytes(self, level: int) -> float:
        """Static (non-dynamic) target size of level >= 1."""
        return self.max_bytes_for_level_base * self.max_bytes_for_level_multiplier ** (level - 1)

    def target_file_bytes(self, level: int) -> float:
        return float(self.target_file_size_base * self.target_file_size_multiplier ** (level - 1))

    def to_args(self) -> list[str]:
        """The db_bench flags for every field that differs from the default (plus extras)."""
        defaults = DbBenchConfig()
        args: list[str] = []
        for name in type(self).model_fields:
            if name == "extra":
                continue
            value = getattr(self, name)
            if value != getattr(defaults, name) or name in {"benchmarks", "num"}:
                if isinstance(value, bool):
                    value = "true" if value else "false"
                args.append(f"--{name}={value}")
        args.extend(f"--{k}={v}" for k, v in self.extra.items())
        return args

    def with_updates(self, **changes: Any) -> DbBenchConfig:
        return self.model_copy(update=changes)


def _coerce(name: str, raw: str) -> Any:
    if name in _INT_FIELDS:
        return int(float(raw))
    if name in _FLOAT_FIELDS:
        return float(raw)
    if name in _BOOL_FIELDS:
        return raw.lower() in {"1", "true", "yes", "on", ""}
    return raw


def parse_db_bench_args(args: str | list[str]) -> DbBenchConfig:
    """Parse `--flag=value` / `--flag value` db_bench arguments into a `DbBenchConfig`."""
    tokens = shlex.split(args) if isinstance(args, str) else list(args)
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("-"):
            continue
        body = token.lstrip("-")
        if "=" in body:
            name, raw = body.split("=", 1)
        elif i < len(tokens) and not tokens[i].startswith("-"):
            name, raw = body, tokens[i]
            i += 1
        else:
            name, raw = body, "true"
        if name in DbBenchConfig.model_fields and name != "extra":
            values[name] = _coerce(name, raw)
        else:
            extra[name] = raw
    return DbBenchConfig(**values, extra=extra)
