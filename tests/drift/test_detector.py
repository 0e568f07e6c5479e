"""The drift computation on Parquet files: exact statistics against scipy, streaming in
small batches gives the same answer as one batch, the default choice of test, missing
values, numbers with few values compared as categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from modelyard.drift import detector
from modelyard.drift.detector import Column, Options


def write(path: Path, **columns: object) -> Path:
    pq.write_table(pa.table(columns), path)  # type: ignore[arg-type]
    return path


def test_ks_and_wasserstein_match_scipy() -> None:
    rng = np.random.default_rng(0)
    for n, m in ((30, 45), (2000, 1500), (40_000, 60_000)):
        a, b = np.sort(rng.normal(0, 1, n)), np.sort(rng.gamma(2.0, 1.0, m))
        statistic, wasserstein = detector.ks_and_wasserstein(a, b)
        assert statistic == pytest.approx(stats.ks_2samp(a, b).statistic)
        assert wasserstein == pytest.approx(stats.wasserstein_distance(a, b))
    small = (np.sort(rng.normal(0, 1, 80)), np.sort(rng.normal(0.5, 1, 90)))
    d, _ = detector.ks_and_wasserstein(*small)
    assert detector.ks_p_value(d, *small) == pytest.approx(stats.ks_2samp(*small).pvalue)


def test_batches_do_not_change_the_answer(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, 5000)
    values[::7] = np.nan
    reference = write(tmp_path / "r.parquet", x=values, c=rng.choice(["a", "b", "c"], 5000))
    current = write(
        tmp_path / "c.parquet", x=rng.normal(0.3, 1, 4000), c=rng.choice(["a", "b"], 4000)
    )
    columns = [Column("x", "numeric"), Column("c", "categorical")]
    one = detector.detect(reference, current, columns, Options(batch_rows=1_000_000))
    many = detector.detect(reference, current, columns, Options(batch_rows=1000))
    assert one == many
    x = one["columns"][0]
    assert x["reference"]["missing"] == len(values[::7]) and x["reference"]["count"] == 5000 - 715
    assert x["method"] == "wasserstein" and x["drifted"] is True
    c = one["columns"][1]
    assert c["method"] == "jensenshannon" and c["current"]["categories"] == 2


def test_small_samples_use_tests_and_two_categories_the_z_test(tmp_path: Path) -> None:
    reference = write(tmp_path / "r.parquet", flag=[True] * 60 + [False] * 40, n=list(range(100)))
    current = write(tmp_path / "c.parquet", flag=[True] * 30 + [False] * 70, n=list(range(100)))
    result = detector.detect(
        reference,
        current,
        [Column("flag", "categorical"), Column("n", "numeric")],
        Options(),
    )
    flag, n = result["columns"]
    assert flag["method"] == "z" and flag["drifted"] is True
    # 60% vs 30% on 100 each: z about -4.3
    assert flag["statistic"] == pytest.approx(-4.26, abs=0.05)
    assert n["method"] == "ks" and n["drifted"] is False and n["p_value"] == pytest.approx(1.0)
    assert result["summary"]["drifted"] == ["flag"] and result["summary"]["dataset_drifted"]


def test_numbers_with_few_values_are_compared_as_categories(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    reference = write(tmp_path / "r.parquet", k=rng.integers(0, 3, 5000))
    current = write(tmp_path / "c.parquet", k=rng.choice([0, 1, 2], 5000, p=[0.6, 0.2, 0.2]))
    (k,) = detector.detect(reference, current, [Column("k", "numeric")], Options())["columns"]
    assert k["method"] == "jensenshannon" and k["drifted"] is True
    assert sorted(k["histogram"]["categories"]) == ["0", "1", "2"]
    assert k["compared_as"].startswith("categories")


def test_a_column_with_no_values_is_not_counted(tmp_path: Path) -> None:
    reference = write(tmp_path / "r.parquet", x=pa.array([None, None], pa.float64()), y=[1.0, 2.0])
    current = write(tmp_path / "c.parquet", x=[1.0, 2.0], y=[1.0, 2.0])
    result = detector.detect(
        reference, current, [Column("x", "numeric"), Column("y", "numeric")], Options()
    )
    assert result["columns"][0]["method"] is None and "No values" in result["columns"][0]["note"]
    assert result["summary"]["compared_columns"] == 1


def test_a_cancel_at_a_batch_stops_the_loop(tmp_path: Path) -> None:
    path = write(tmp_path / "r.parquet", x=np.arange(10_000, dtype=float))
    calls: list[int] = []

    class Stop(Exception):
        pass

    def checkpoint() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    with pytest.raises(Stop):
        detector.detect(
            path, path, [Column("x", "numeric")], Options(batch_rows=1000), checkpoint=checkpoint
        )
    assert len(calls) == 3
