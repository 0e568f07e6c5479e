"""The online estimators and the tuner converge on synthetic data with known parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.tuning import OnlineTuner, RecursiveLeastSquares, ScalarKalman


def test_rls_recovers_known_costs_from_noisy_observations() -> None:
    rng = np.random.default_rng(7)
    true = np.array([1.3e-6, 3.4e-9])  # CPU-s per record, per byte
    rls = RecursiveLeastSquares.start([5e-7, 1e-9], lam=0.98)
    for _ in range(400):
        records = rng.uniform(1e4, 5e5)
        value = rng.uniform(50, 2000)
        x = [records, records * (value + 24)]
        rls.update(x, float(np.dot(true, x)) * rng.normal(1.0, 0.02))
    assert rls.theta[0] == pytest.approx(true[0], rel=0.1)
    assert rls.theta[1] == pytest.approx(true[1], rel=0.05)


def test_rls_with_forgetting_follows_a_change_and_stays_non_negative() -> None:
    rng = np.random.default_rng(3)
    rls = RecursiveLeastSquares.start([1e-6, 1e-9], lam=0.9)
    for true in ([2e-6, 1e-9], [2e-6, 4e-9]):
        for _ in range(150):
            x = [rng.uniform(1e4, 1e5), rng.uniform(1e6, 1e8)]
            rls.update(x, float(np.dot(true, x)))
        assert rls.theta == pytest.approx(true, rel=0.02)
    assert (rls.theta >= 0).all()
    again = RecursiveLeastSquares.from_dict(rls.to_dict())
    assert again.theta == pytest.approx(rls.theta)


def test_kalman_correction_converges_to_the_measured_ratio() -> None:
    rng = np.random.default_rng(11)
    kalman = ScalarKalman(0.0, 0.25, q=0.01, r=0.05)
    for _ in range(60):
        kalman.update(math.log(0.4) + rng.normal(0, 0.15))
    assert math.exp(kalman.value) == pytest.approx(0.4, rel=0.1)


def test_tuner_estimates_costs_from_events_and_correction_from_saturated_windows() -> None:
    rng = np.random.default_rng(5)
    truth = {
        "compaction_cpu_sec_per_record": 1.2e-6,
        "compaction_cpu_sec_per_byte": 3e-9,
        "foreground_cpu_sec_per_op": 6e-6,
        "foreground_cpu_sec_per_byte": 5e-9,
    }
    tuner = OnlineTuner(
        {
            "compaction_cpu_sec_per_record": 5e-7,
            "compaction_cpu_sec_per_byte": 1e-9,
            "foreground_cpu_sec_per_op": 2e-6,
            "foreground_cpu_sec_per_byte": 1e-9,
            "correction_factor": 1.0,
        }
    )
    for step in range(300):
        value = 100 if step < 150 else 1000  # the workload shifts halfway
        records = rng.uniform(2e5, 6e5)
        nbytes = records * (value + 24)
        ops = rng.uniform(5e3, 3e4)
        evidence = {
            "compactions": [
                {
                    "cpu_sec": (
                        truth["compaction_cpu_sec_per_record"] * records
                        + truth["compaction_cpu_sec_per_byte"] * nbytes
                    )
                    * rng.normal(1.0, 0.03),
                    "records_in": records / 2,
                    "records_out": records / 2,
                    "bytes_in": nbytes / 2,
                    "bytes_out": nbytes / 2,
                }
            ],
            "ops": ops,
            "tickers": {"user_bytes": ops * (value + 16)},
            "cpu_foreground_sec": truth["foreground_cpu_sec_per_op"] * ops
            + truth["foreground_cpu_sec_per_byte"] * ops * (value + 16),
        }
        tuner.observe(evidence)
        tuner.observe_saturated(
            predicted=10_000.0, actual=7_000.0 * rng.normal(1.0, 0.05), correction_in_use=1.0
        )
    estimates = tuner.estimates()
    for key, value in truth.items():
        assert estimates[key] == pytest.approx(value, rel=0.1), key
    assert estimates["correction_factor"] == pytest.approx(0.7, rel=0.1)
    restored = OnlineTuner.from_dict(tuner.to_dict())
    assert restored.estimates() == pytest.approx(estimates)
