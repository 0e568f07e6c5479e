"""Metrics against values computed by hand, chunked or not, exact or sketched."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.evaluations.metrics import (
    ClassificationMetrics,
    QuantileSketch,
    RegressionMetrics,
    direction,
)

# y_true, y_pred and, by hand: errors (pred - true) = [0.5, -1, 0, 2, -0.5]
Y_TRUE = np.array([2.0, 4.0, 5.0, 8.0, 10.0])
Y_PRED = np.array([2.5, 3.0, 5.0, 10.0, 9.5])


def _regression(chunks: list[slice], exact_limit: int = 1_000_000) -> dict[str, float | None]:
    metrics = RegressionMetrics(exact_limit)
    for part in chunks:
        metrics.update(Y_TRUE[part], Y_PRED[part])
    return metrics.result()


@pytest.mark.parametrize("chunks", [[slice(0, 5)], [slice(0, 2), slice(2, 3), slice(3, 5)]])
def test_regression_metrics_by_hand(chunks: list[slice]) -> None:
    result = _regression(chunks)
    # |e| = [0.5, 1, 0, 2, 0.5]; sum 4.0
    assert result["count"] == 5
    assert result["mae"] == pytest.approx(4.0 / 5)
    # e^2 = [0.25, 1, 0, 4, 0.25]; sum 5.5
    assert result["rmse"] == pytest.approx(math.sqrt(5.5 / 5))
    # |e|/|y| = [0.25, 0.25, 0, 0.25, 0.05]; sum 0.8 -> 16 %
    assert result["mape"] == pytest.approx(100 * 0.8 / 5)
    # mean y = 5.8; sum (y - 5.8)^2 = 14.44 + 3.24 + 0.64 + 4.84 + 17.64 = 40.8
    assert result["r2"] == pytest.approx(1 - 5.5 / 40.8)
    assert result["max_error"] == 2.0
    assert result["mean_error"] == pytest.approx(1.0 / 5)
    # sorted |e| = [0, 0.5, 0.5, 1, 2]; p50 = 0.5; p90 at rank 3.6 -> 1 + 0.6 * 1 = 1.6
    assert result["error_p50"] == pytest.approx(0.5)
    assert result["error_p90"] == pytest.approx(1.6)
    assert result["error_p95"] == pytest.approx(1.8)
    assert result["error_p99"] == pytest.approx(1.96)


def test_mape_skips_zero_targets_and_r2_needs_spread() -> None:
    metrics = RegressionMetrics()
    metrics.update(np.array([0.0, 2.0]), np.array([1.0, 3.0]))
    result = metrics.result()
    assert result["mape"] == pytest.approx(50.0)
    metrics = RegressionMetrics()
    metrics.update(np.array([3.0, 3.0]), np.array([3.0, 4.0]))
    assert metrics.result()["r2"] is None
    assert RegressionMetrics().result() == {"count": 0}


def test_r2_stays_accurate_for_a_large_mean() -> None:
    rng = np.random.default_rng(3)
    y = 1e9 + rng.normal(0, 1, 10_000)
    p = y + rng.normal(0, 0.5, 10_000)
    metrics = RegressionMetrics()
    for start in range(0, len(y), 999):
        metrics.update(y[start : start + 999], p[start : start + 999])
    expected = 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)
    assert metrics.result()["r2"] == pytest.approx(expected, rel=1e-6)


def test_quantiles_switch_to_a_sketch_with_bounded_error() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([np.zeros(1000), rng.lognormal(0, 2, 50_000)])
    sketch = QuantileSketch(exact_limit=5_000)
    for start in range(0, len(values), 4096):
        sketch.add(values[start : start + 4096])
    assert not sketch.exact
    for q, estimate in zip(
        (0.01, 0.5, 0.9, 0.99), sketch.quantiles([0.01, 0.5, 0.9, 0.99]), strict=True
    ):
        exact = float(np.quantile(values, q, method="lower"))
        assert estimate == pytest.approx(exact, rel=0.011, abs=1e-9)


def test_binary_classification_by_hand() -> None:
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    predicted = np.array([1, 0, 1, 0, 1, 0, 0, 1])
    # positive class 1: tp 3, fn 1, fp 1, tn 3
    scores = np.array([0.9, 0.4, 0.8, 0.3, 0.6, 0.2, 0.1, 0.7])
    metrics = ClassificationMetrics(classes=[0, 1])
    metrics.update(truth[:5], predicted[:5], np.column_stack([1 - scores[:5], scores[:5]]))
    metrics.update(truth[5:], predicted[5:], np.column_stack([1 - scores[5:], scores[5:]]))
    result = metrics.result()
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["precision"] == pytest.approx(3 / 4)
    assert result["recall"] == pytest.approx(3 / 4)
    assert result["f1"] == pytest.approx(3 / 4)
    # positives' scores 0.9, 0.4, 0.8, 0.7 against negatives' 0.3, 0.6, 0.2, 0.1:
    # 0.4 beats 3 of 4 negatives, the others beat all 4 -> 15 of 16 pairs
    assert result["roc_auc"] == pytest.approx(15 / 16)
    details = metrics.details()
    assert details["confusion_matrix"]["labels"] == ["0", "1"]
    assert details["confusion_matrix"]["matrix"] == [[3, 1], [1, 3]]
    assert details["positive_label"] == "1"


def test_multiclass_macro_averages_by_hand() -> None:
    truth = np.array(["cat", "cat", "dog", "dog", "bird", "bird"], dtype=object)
    predicted = np.array(["cat", "dog", "dog", "dog", "bird", "cat"], dtype=object)
    metrics = ClassificationMetrics()
    metrics.update(truth, predicted)
    result = metrics.result()
    assert result["accuracy"] == pytest.approx(4 / 6)
    # bird: p 1/1, r 1/2, f1 2/3; cat: p 1/2, r 1/2, f1 1/2; dog: p 2/3, r 1, f1 4/5
    assert result["precision"] == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    assert result["recall"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert result["f1"] == pytest.approx((2 / 3 + 0.5 + 0.8) / 3)
    assert result["roc_auc"] is None
    assert metrics.confusion()["matrix"] == [[1, 1, 0], [0, 1, 1], [0, 0, 2]]


def test_labels_compare_across_types() -> None:
    metrics = ClassificationMetrics(classes=[0, 1])
    metrics.update(np.array([1.0, 0.0]), np.array([1, 0]))
    assert metrics.result()["accuracy"] == 1.0


def test_binned_auc_matches_the_exact_one() -> None:
    rng = np.random.default_rng(8)
    truth = rng.integers(0, 2, 40_000)
    scores = np.clip(rng.normal(0.4 + 0.2 * truth, 0.15), 0, 1)
    exact = ClassificationMetrics(classes=[0, 1])
    binned = ClassificationMetrics(classes=[0, 1], exact_limit=1_000)
    for metrics in (exact, binned):
        for start in range(0, len(truth), 5_000):
            part = slice(start, start + 5_000)
            metrics.update(
                truth[part],
                (scores[part] > 0.5).astype(int),
                np.column_stack([1 - scores[part], scores[part]]),
            )
    assert binned.result()["roc_auc"] == pytest.approx(exact.result()["roc_auc"], abs=1e-3)


def test_directions() -> None:
    assert [direction(m) for m in ("mape", "r2", "mean_error", "count")] == [
        "lower",
        "higher",
        "zero",
        None,
    ]
