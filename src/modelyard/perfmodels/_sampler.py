"""A seeded sampler of db_bench write configurations across the space the models must cover.

`sample_configurations(n, seed=...)` draws `n` fillrandom configurations; the same seed and
space always give the same list (numpy's PCG64 from the seed, one draw order), so a matrix can
be named by its seed and redrawn anywhere. Sizes that span orders of magnitude are drawn
log-uniformly.

The space (`SamplerSpace`, defaults from the S_max issue):

| option | range |
|---|---|
| `--value_size` | 32 B - 8 KiB |
| `--key_size` | 8 - 64 B |
| `--write_buffer_size` | 2 - 128 MiB |
| `--max_bytes_for_level_base` | 16 - 512 MiB |
| `--max_bytes_for_level_multiplier` | 4 - 12 |
| `--target_file_size_base` | 4 - 128 MiB |
| `--max_background_jobs` | 1 - 8 |
| `--threads` | 1 - 4 |
| `--compression_type` | none, snappy, lz4, zstd |
| run length | `--duration` 20 - 120 s, or (`num_bound_share` of them) `--num` puts: 0.2 - 1.5 GiB of key+value, at most 0.5 - 4 M puts, at least 125 k |
| key space (`--num` of a duration-bound run) | 1M - 1G keys, at most `max_key_space_bytes` of key+value |

The key space is capped so that no run can leave more than `max_key_space_bytes` of distinct
data on the disk (a 120 s run of 8 KiB values over a billion keys would write tens of GB).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, Field

from modelyard.perfmodels._config import MIB

COMPRESSIONS = ("none", "snappy", "lz4", "zstd")


class SamplerSpace(BaseModel):
    """Bounds of the sampled space (inclusive)."""

    value_size: tuple[int, int] = (32, 8192)
    key_size: tuple[int, int] = (8, 64)
    write_buffer_size: tuple[int, int] = (2 * MIB, 128 * MIB)
    max_bytes_for_level_base: tuple[int, int] = (16 * MIB, 512 * MIB)
    max_bytes_for_level_multiplier: tuple[int, int] = (4, 12)
    target_file_size_base: tuple[int, int] = (4 * MIB, 128 * MIB)
    max_background_jobs: tuple[int, int] = (1, 8)
    threads: tuple[int, int] = (1, 4)
    compressions: tuple[str, ...] = COMPRESSIONS
    duration: tuple[int, int] = (20, 120)
    num_bound_share: float = Field(0.2, ge=0.0, le=1.0)
    num_bound_bytes: tuple[int, int] = (200 * MIB, 1536 * MIB)
    num_bound_puts: tuple[int, int] = (500_000, 4_000_000)
    key_space: tuple[int, int] = (1_000_000, 1_000_000_000)
    max_key_space_bytes: int = 4096 * MIB


def space_for(max_seconds: int) -> SamplerSpace:
    """The default space with runs at most `max_seconds` long (20 s at least): durations
    20 - max_seconds, and num-bound runs scaled down in proportion to 120 s."""
    top = max(20, max_seconds)
    base = SamplerSpace()
    share = min(1.0, top / base.duration[1])
    return base.model_copy(
        update={
            "duration": (base.duration[0], top),
            "num_bound_bytes": (
                base.num_bound_bytes[0],
                max(base.num_bound_bytes[0], round(base.num_bound_bytes[1] * share)),
            ),
            "num_bound_puts": (
                base.num_bound_puts[0],
                max(base.num_bound_puts[0], round(base.num_bound_puts[1] * share)),
            ),
        }
    )


class SampledConfiguration(BaseModel):
    name: str
    db_bench_args: str


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _int(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _short(nbytes: int) -> str:
    return f"{nbytes / MIB:.0f}M" if nbytes >= MIB else f"{nbytes}B"


def sample_configurations(
    n: int, *, seed: int, space: SamplerSpace | None = None, prefix: str = "s"
) -> list[SampledConfiguration]:
    """`n` configurations drawn with `seed` (same seed and space, same list)."""
    space = space or SamplerSpace()
    rng = np.random.default_rng(seed)
    out: list[SampledConfiguration] = []
    for index in range(n):
        value = round(_log_uniform(rng, *space.value_size))
        key = _int(rng, space.key_size)
        memtable = round(_log_uniform(rng, *space.write_buffer_size))
        base = round(_log_uniform(rng, *space.max_bytes_for_level_base))
        multiplier = _int(rng, space.max_bytes_for_level_multiplier)
        target = round(_log_uniform(rng, *space.target_file_size_base))
        jobs = _int(rng, space.max_background_jobs)
        threads = _int(rng, space.threads)
        compression = space.compressions[int(rng.integers(len(space.compressions)))]
        num_bound = bool(rng.uniform() < space.num_bound_share)
        duration = round(_log_uniform(rng, *space.duration))
        volume = _log_uniform(rng, *space.num_bound_bytes)
        puts = _log_uniform(rng, *space.num_bound_puts)
        key_space = round(_log_uniform(rng, *space.key_space))
        entry = key + value
        if num_bound:
            num = max(round(min(volume / entry, puts)), space.num_bound_puts[0] // 4)
            length, length_name = 0, "n"
        else:
            num = min(key_space, space.max_key_space_bytes // entry)
            length, length_name = duration, "d"
        seed_arg = int(rng.integers(1, 2**31 - 1))
        args = [
            "--benchmarks=fillrandom",
            f"--key_size={key}",
            f"--value_size={value}",
            f"--num={num}",
            f"--duration={length}",
            f"--threads={threads}",
            f"--write_buffer_size={memtable}",
            f"--max_bytes_for_level_base={base}",
            f"--max_bytes_for_level_multiplier={multiplier}",
            f"--target_file_size_base={target}",
            f"--max_background_jobs={jobs}",
            f"--compression_type={compression}",
            f"--seed={seed_arg}",
        ]
        length_label = f"{length}s" if length else f"{num / 1e6:.1f}Mops"
        name = (
            f"{prefix}{seed}-{index:02d}-v{value}-k{key}-wb{_short(memtable)}-"
            f"{compression}-t{threads}-j{jobs}-{length_name}{length_label}"
        )
        out.append(SampledConfiguration(name=name, db_bench_args=" ".join(args)))
    return out
