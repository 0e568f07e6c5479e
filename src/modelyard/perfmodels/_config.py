"""The db_bench configuration: a typed view of a db_bench argument string with RocksDB 7.8 defaults.

Every S_max model reads a `DbBenchConfig`; the derived properties (bytes per operation, the
background thread split, the rate limit in operations per second) are where RocksDB's own rules
are encoded once.
"""

from __future__ import annotations

import difflib
import math
import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelyard.perfmodels._flags import DB_BENCH_FLAGS

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

    @property
    def unmodelled_flags(self) -> list[str]:
        """Flags given that db_bench accepts but no model describes (the prediction ignores
        them): reporting, paths and seeds are left out, they change nothing modelled."""
        return sorted(f for f in self.extra if f not in _NEUTRAL_FLAGS)


class DbBenchArgsError(ValueError):
    """A db_bench argument string the models cannot take; the message is one sentence."""


# What RocksDB 7.8's db_bench here compresses with, and the spellings it accepts for them.
COMPRESSION_TYPES = ("none", "snappy", "lz4", "zstd")
_COMPRESSION_ALIASES = {"no": "none", "nocompression": "none"}
_ROCKSDB_ONLY = {"zlib", "bzip2", "lz4hc", "xpress"}
# The write benchmarks the models describe.
WRITE_BENCHMARKS = ("fillrandom", "fillseq")
# Flags db_bench accepts that change nothing the models describe (reporting, paths, seeds).
_NEUTRAL_FLAGS = {
    "db",
    "wal_dir",
    "report_file",
    "report_interval_seconds",
    "statistics",
    "stats_interval",
    "stats_interval_seconds",
    "stats_per_interval",
    "stats_dump_period_sec",
    "stats_persist_period_sec",
    "histogram",
    "seed",
    "use_existing_db",
    "compression_ratio",
    "benchmark_write_rate_limit",
    "progress_reports",
    "perf_level",
    "statistics_string",
}
_KIND_WORDS = {
    "int": "an integer",
    "uint": "a non-negative integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
}
_TRUE = {"true", "t", "yes", "y", "1", ""}
_FALSE = {"false", "f", "no", "n", "0"}


def _value(flag: str, raw: str) -> Any:
    """The value of one flag, checked against the kind db_bench expects."""
    kind = DB_BENCH_FLAGS[flag]
    try:
        if kind == "bool":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError(raw)
        if kind in {"int", "uint"}:
            number = int(raw, 0) if raw.lower().startswith("0x") else int(raw)
            if kind == "uint" and number < 0:
                raise ValueError(raw)
            return number
        if kind == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
    except ValueError:
        raise DbBenchArgsError(
            f"--{flag}={raw} is not valid: --{flag} takes {_KIND_WORDS[kind]}."
        ) from None
    return raw


def _nearest_flag(name: str) -> str:
    close = difflib.get_close_matches(name, DB_BENCH_FLAGS, n=1, cutoff=0.6)
    if not close:  # a prefix typed short (--value_sz) is what people do most
        close = sorted(f for f in DB_BENCH_FLAGS if f.startswith(name[: max(3, len(name) - 2)]))
    return f" (did you mean --{close[0]}?)" if close else ""


# Lower bounds a modelled value must meet (db_bench accepts some of these and misbehaves).
_MINIMUM = {
    "key_size": 8,
    "value_size": 1,
    "num": 1,
    "duration": 0,
    "threads": 1,
    "write_buffer_size": 65536,
    "max_write_buffer_number": 1,
    "min_write_buffer_number_to_merge": 1,
    "level0_file_num_compaction_trigger": 1,
    "level0_slowdown_writes_trigger": 1,
    "level0_stop_writes_trigger": 1,
    "max_bytes_for_level_base": 65536,
    "target_file_size_base": 65536,
    "target_file_size_multiplier": 1,
    "num_levels": 2,
    "max_background_jobs": 1,
    "subcompactions": 1,
    "benchmark_write_rate_limit": 0,
    "delayed_write_rate": 1,
}


def _check_modelled(name: str, value: Any) -> Any:
    low = _MINIMUM.get(name)
    if low is not None and value < low:
        raise DbBenchArgsError(f"--{name}={value} is out of range: it must be at least {low}.")
    if name == "max_bytes_for_level_multiplier" and value <= 1.0:
        raise DbBenchArgsError(f"--{name}={value} is out of range: it must be above 1.")
    if name == "compression_ratio" and not 0.0 < value <= 1.0:
        raise DbBenchArgsError(f"--{name}={value} is out of range: it must be in (0, 1].")
    if name == "compression_type":
        key = _COMPRESSION_ALIASES.get(str(value).lower(), str(value).lower())
        if key not in COMPRESSION_TYPES:
            known = ", ".join(COMPRESSION_TYPES)
            why = "is not modelled" if key in _ROCKSDB_ONLY else "is not a compression type"
            raise DbBenchArgsError(
                f"--compression_type={value} {why}: use one of {known} "
                "(the ones RocksDB 7.8's db_bench offers here)."
            )
        return key
    if name == "benchmarks":
        names = [b for b in str(value).split(",") if b]
        if len(names) != 1 or names[0] not in WRITE_BENCHMARKS:
            raise DbBenchArgsError(
                f"--benchmarks={value} is not modelled: S_max is predicted for one write "
                f"benchmark, {' or '.join(WRITE_BENCHMARKS)}."
            )
    return value


def parse_db_bench_args(args: str | list[str]) -> DbBenchConfig:
    """Parse `--flag=value`, `--flag value`, `--flag` and `--noflag` db_bench arguments.

    Every flag must be one db_bench 7.8.3 accepts (`DB_BENCH_FLAGS`) and every value of the
    kind it takes; a modelled option must be in the range the models cover. Anything else
    raises `DbBenchArgsError` with one sentence saying what is wrong (for an unknown flag, the
    nearest known name). Flags db_bench accepts that the models do not describe are kept in
    `extra` (see `DbBenchConfig.unmodelled_flags`).
    """
    try:
        tokens = shlex.split(args) if isinstance(args, str) else list(args)
    except ValueError as error:
        raise DbBenchArgsError(f"the db_bench arguments do not parse: {error}.") from None
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("-") or token.strip("-") == "":
            raise DbBenchArgsError(
                f"{token!r} is not a db_bench flag: flags look like --name=value."
            )
        body = token.lstrip("-")
        name, has_value, raw = body.partition("=")
        negated = name.startswith("no") and DB_BENCH_FLAGS.get(name[2:]) == "bool"
        if name not in DB_BENCH_FLAGS and negated and not has_value:  # gflags' --noflag
            name, has_value, raw = name[2:], "=", "false"
        if name not in DB_BENCH_FLAGS:
            raise DbBenchArgsError(f"--{name} is not a db_bench flag{_nearest_flag(name)}.")
        if not has_value:
            if DB_BENCH_FLAGS[name] == "bool":
                raw = "true"
            elif i < len(tokens):
                raw = tokens[i]
                i += 1
            else:
                raise DbBenchArgsError(f"--{name} needs a value.")
        value = _value(name, raw)
        if name in DbBenchConfig.model_fields and name != "extra":
            values[name] = _check_modelled(name, value)
        else:
            extra[name] = raw
    return DbBenchConfig(**values, extra=extra)
