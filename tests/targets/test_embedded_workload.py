"""The embedded target's workload: Zipfian keys and several client threads, on a real RocksDB."""

from __future__ import annotations

import collections
import random
import time
from pathlib import Path

import pytest

from modelyard.targets.embedded import EmbeddedRocksDbTarget, WorkloadSpec
from modelyard.targets.embedded.worker import Zipfian


def test_zipfian_keys_are_skewed_and_spread() -> None:
    zipf = Zipfian(1_000_000, 0.99)
    rng = random.Random(3)
    counts = collections.Counter(zipf.next(rng) for _ in range(50_000))
    assert all(0 <= key < 1_000_000 for key in counts)
    hottest = counts.most_common(10)
    # theta 0.99 over a million keys: the hottest key ~6%, the ten hottest ~20%
    assert 0.03 < hottest[0][1] / 50_000 < 0.1
    assert 0.1 < sum(n for _, n in hottest) / 50_000 < 0.25
    # scrambled: the hot keys are not the smallest numbers
    assert max(key for key, _ in hottest) > 100_000
    plain = random.Random(3)
    uniform = collections.Counter(plain.randrange(1_000_000) for _ in range(50_000))
    assert uniform.most_common(1)[0][1] < 10


@pytest.mark.slow
def test_threads_and_zipfian_phase_run_and_are_the_configuration(tmp_path: Path) -> None:
    spec = WorkloadSpec.model_validate(
        {
            "phases": [
                {"duration_seconds": 3, "rate": 2000, "threads": 1},
                {
                    "duration_seconds": 3,
                    "rate": 2000,
                    "threads": 4,
                    "key_distribution": "zipfian",
                    "put_fraction": 0.5,
                    "get_fraction": 0.5,
                },
            ],
            "then": "stop",
        }
    )
    target = EmbeddedRocksDbTarget(spec, tmp_path / "db", interval_seconds=0.5)
    target.start()
    intervals = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
            iv.configuration["phase_index"] == 1 for iv in intervals[-1:]
        ):
            intervals.extend(target.collect())
            time.sleep(0.2)
        for _ in range(4):
            time.sleep(0.5)
            intervals.extend(target.collect())
    finally:
        target.stop()
    first = [iv for iv in intervals if iv.configuration["phase_index"] == 0]
    second = [iv for iv in intervals if iv.configuration["phase_index"] == 1]
    assert first and second
    assert first[0].configuration["threads"] == 1
    assert first[0].configuration["key_distribution"] == "uniform"
    assert second[-1].configuration["threads"] == 4
    assert second[-1].configuration["key_distribution"] == "zipfian"
    assert any(iv.metrics.get("ops_per_sec.get", 0) > 0 for iv in second)
