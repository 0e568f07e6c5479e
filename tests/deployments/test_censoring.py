"""Censored windows as constraints, and prediction intervals, on recorded intervals.

``tests/data/live/embedded_windows.json`` holds intervals recorded from the embedded RocksDB
target on this kind of machine (20 s rate-limited at 4,000 ops/s, unsaturated, then 15 s
open-loop, saturated; ``tests/data/live/README.md`` says how). They are replayed through two
engines of one version whose prediction is far below what the target sustained: a frozen one
is flagged on every unsaturated window, the auto-tuned one never ends an interval predicting
less than a rate a recent window sustained.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from modelyard.deployments import service as deployment_service
from modelyard.deployments._engine import DeploymentEngine
from modelyard.deployments._intervals import PredictionSpread, prediction_interval
from modelyard.deployments._predict import Predictor
from modelyard.deployments.experiment import PRIOR_PROFILE
from modelyard.deployments.schemas import DeploymentCreate
from modelyard.kit.db import Database
from modelyard.models import Deployment
from modelyard.monitoring.store import MetricStore
from modelyard.registry import service as registry_service
from modelyard.registry.schemas import ModelCreate, VersionCreate
from modelyard.targets import service as target_service
from modelyard.targets.base import Interval
from modelyard.targets.schemas import PushTargetCreate

RECORDED = Path(__file__).parents[1] / "data" / "live" / "embedded_windows.json"


@pytest.fixture
def stopped_after(database: Database) -> Iterator[list[int]]:
    """Deployments to stop when the test ends: an active one would be in every fleet reading
    (``prediction_error_pct``) of the other tests of the session."""
    ids: list[int] = []
    yield ids
    with database.session() as session:
        for deployment_id in ids:
            deployment_service.stop_deployment(session, deployment_id, actor="test")


def _intervals() -> list[Interval]:
    return [Interval(**row) for row in json.loads(RECORDED.read_text())]


def _engines(database: Database, unique: str, parameters: dict[str, Any]) -> list[int]:
    with database.session() as session:
        registry_service.create_model(session, ModelCreate(name=f"m-{unique}"), actor="test")
        registry_service.create_version(
            session,
            f"m-{unique}",
            VersionCreate(flavor="formula", parameters=parameters),
            None,
            actor="test",
        )
        target_service.create_target(
            session,
            PushTargetCreate(name=f"t-{unique}", kind="push", start=False),
            actor="test",
        )
        ids = []
        for auto_tune in (False, True):
            created = deployment_service.create_deployment(
                session,
                DeploymentCreate(
                    name=f"d-{unique}-{'tuned' if auto_tune else 'frozen'}",
                    target=f"t-{unique}",
                    model=f"m-{unique}/1",
                    auto_tune=auto_tune,
                    settings={"window_intervals": 3, "tune_every": 5},
                ),
                actor="test",
            )
            ids.append(int(created.id))
    return ids


def test_tuning_never_ends_below_a_sustained_rate(
    database: Database, unique: str, stopped_after: list[int]
) -> None:
    intervals = _intervals()
    unsaturated = [iv for iv in intervals if iv.saturated is False]
    assert len(unsaturated) >= 10 and min(iv.metrics["ops_per_sec"] for iv in unsaturated) > 3000
    # the generic prior scaled to a twentieth: far below the 4,000 ops/s sustained
    parameters = {"kind": "smax_resource", "profile": PRIOR_PROFILE, "live_correction": 0.05}
    frozen_id, tuned_id = _engines(database, unique, parameters)
    stopped_after.extend([frozen_id, tuned_id])
    store = MetricStore(database.engine)
    predictor = Predictor()
    with database.session() as session:
        frozen = DeploymentEngine(session.get_one(Deployment, frozen_id), predictor)
        tuned = DeploymentEngine(session.get_one(Deployment, tuned_id), predictor)
    flagged = {"frozen": 0, "tuned": 0}
    for interval in intervals:
        for name, engine in (("frozen", frozen), ("tuned", tuned)):
            with database.session() as session:
                evaluation = engine.evaluate(session, store, interval)
            assert evaluation.error is None, evaluation.error
            assert evaluation.predicted is not None
            assert evaluation.predicted_p10 is not None and evaluation.predicted_p90 is not None
            assert evaluation.predicted_p10 <= evaluation.predicted_p90
            if name == "tuned" and evaluation.sustained is not None:
                assert evaluation.predicted >= evaluation.sustained
            if not evaluation.below_sustained:
                assert evaluation.predicted_p10 <= evaluation.predicted <= evaluation.predicted_p90
            else:
                flagged[name] += 1
                assert evaluation.sustained is not None
                assert evaluation.predicted < evaluation.sustained
                # a known sustained rate is a floor of the interval
                assert evaluation.predicted_p10 >= evaluation.sustained
        # what the tuned deployment serves from here on predicts every recent sustained rate
        with database.session() as session:
            version = registry_service.resolve(session, f"m-{unique}/1")
        for window in tuned.bounds:
            value = predictor.predict(
                version.flavor, version.parameters, tuned.overlay, window.features
            ).value
            assert value >= window.actual * (1 - 1e-6), (value, window.actual)
    # the frozen one is wrong on every unsaturated window, and says so; the tuned one serves
    # no less than what the recent windows sustained, and its model is raised to meet them
    assert flagged["frozen"] >= len(unsaturated) - 3
    assert flagged["tuned"] == 0
    with database.session() as session:
        frozen_row = session.get_one(Deployment, frozen_id)
        tuned_row = session.get_one(Deployment, tuned_id)
        assert frozen_row.state["last"]["predicted_p10"] is not None
        assert tuned_row.tuned_parameters["live_correction"] > 0.05
        records = deployment_service.list_tuning(session, tuned_id)
        assert any(r.evidence["sustained_rate_constraint"] for r in records)
        alerts = deployment_service.list_alerts(session, frozen_id)
        assert [a.kind for a in alerts].count("below_sustained_rate") == 1
    # coverage is counted on the saturated windows of the open-loop phase
    assert tuned_row.state["coverage"]["windows"] > 0
    # the live loop's figures reach Prometheus, labelled deployment, model and version
    labels = {"deployment": f"d-{unique}-tuned", "model": f"m-{unique}", "version": "1"}
    assert REGISTRY.get_sample_value("modelyard_deployment_predicted_smax_p10", labels)
    assert REGISTRY.get_sample_value("modelyard_deployment_tuning_updates_total", labels)
    series = store.query(f"deployment:{frozen_id}", from_ms=0, to_ms=2**62, step_ms=0).series
    assert max(series["below_sustained"]["avg"]) == 1.0
    assert "predicted_smax_p10" in series and "predicted_smax_p90" in series


def test_the_interval_follows_the_measured_spread_and_a_sustained_floor() -> None:
    spread = PredictionSpread()
    for actual in (900.0, 1100.0) * 20:
        spread.update(1000.0, actual)
    lower, upper = prediction_interval(1000.0, spread.mean_square)
    # residuals of +/-10 %: the p10-p90 band is about +/-13 % (1.28 sigma)
    assert 850 < lower < 900 and 1100 < upper < 1170
    # a rate the target sustained is a floor of S_max, so of its interval too
    lower, upper = prediction_interval(1000.0, spread.mean_square, floor=950.0)
    assert lower == 950.0 and upper > 1100
    lower, upper = prediction_interval(1000.0, spread.mean_square, floor=1200.0)
    assert lower == 1200.0 and upper >= 1200.0
