"""Deployment alerts that do not flap: hysteresis, a minimum open time, and grouping.

Synthetic intervals (a constant linear prediction against chosen rates) go straight through a
deployment's engine, so every error and headroom is known exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.alerts import service as alerts_service
from modelyard.deployments import service as deployment_service
from modelyard.deployments._engine import DeploymentEngine
from modelyard.deployments._predict import Predictor
from modelyard.deployments.schemas import DeploymentCreate, DeploymentSettings
from modelyard.kit.db import Database
from modelyard.models import Deployment
from modelyard.monitoring.store import MetricStore
from modelyard.registry import service as registry_service
from modelyard.registry.schemas import ModelCreate, VersionCreate
from modelyard.targets import service as target_service
from modelyard.targets.base import Interval
from modelyard.targets.schemas import PushTargetCreate

SECOND = 1000


@pytest.fixture
def stopped_after(database: Database) -> Iterator[list[int]]:
    """Deployments to stop when the test ends: an active one would be in every fleet reading
    (``prediction_error_pct``) of the other tests of the session."""
    ids: list[int] = []
    yield ids
    with database.session() as session:
        for deployment_id in ids:
            deployment_service.stop_deployment(session, deployment_id, actor="test")


def _engine(
    database: Database, unique: str, settings: dict[str, Any], stop: list[int]
) -> DeploymentEngine:
    with database.session() as session:
        registry_service.create_model(session, ModelCreate(name=f"m-{unique}"), actor="test")
        registry_service.create_version(
            session,
            f"m-{unique}",
            VersionCreate(
                flavor="formula", parameters={"kind": "linear", "coef": {}, "intercept": 1000.0}
            ),
            None,
            actor="test",
        )
        target_service.create_target(
            session, PushTargetCreate(name=f"t-{unique}", kind="push", start=False), actor="test"
        )
        created = deployment_service.create_deployment(
            session,
            DeploymentCreate(
                name=f"d-{unique}",
                target=f"t-{unique}",
                model=f"m-{unique}/1",
                settings=DeploymentSettings(window_intervals=1, **settings),
            ),
            actor="test",
        )
        stop.append(int(created.id))
        return DeploymentEngine(session.get_one(Deployment, created.id), Predictor())


def _run(
    database: Database, engine: DeploymentEngine, rates: list[tuple[float, float, bool]]
) -> None:
    store = MetricStore(database.engine)
    for achieved, offered, saturated in rates:
        interval = Interval(
            ts_ms=1_800_000_000_000 + engine.intervals * SECOND,
            seconds=1.0,
            metrics={"ops_per_sec": achieved, "offered_ops_per_sec": offered},
            configuration={"value_size": 100},
            saturated=saturated,
        )
        with database.session() as session:
            engine.evaluate(session, store, interval)


def _alerts(database: Database, engine: DeploymentEngine) -> list[dict[str, Any]]:
    with database.session() as session:
        return [a.model_dump() for a in deployment_service.list_alerts(session, engine.id)]


def test_an_error_hovering_at_the_threshold_opens_one_event(
    database: Database, unique: str, stopped_after: list[int]
) -> None:
    engine = _engine(
        database, unique, {"error_threshold_pct": 25, "error_intervals": 1}, stopped_after
    )
    # measured S_max 790 / 810 against 1,000 predicted: +26.6 % / +23.5 %, for two minutes
    rates = [(790.0, 2000.0, True), (810.0, 2000.0, True)] * 60
    _run(database, engine, rates)
    alerts = [a for a in _alerts(database, engine) if a["kind"] == "prediction_error"]
    assert len(alerts) == 1 and alerts[0]["resolved_at"] is None and alerts[0]["count"] == 1
    # well inside the resolve threshold (20 %) for long enough: it resolves
    _run(database, engine, [(980.0, 2000.0, True)] * 3)
    assert _alerts(database, engine)[0]["resolved_at"] is not None


def test_headroom_hovering_at_the_minimum_opens_one_event(
    database: Database, unique: str, stopped_after: list[int]
) -> None:
    engine = _engine(
        database, unique, {"headroom_min": 1.2, "headroom_intervals": 1}, stopped_after
    )
    # before any saturated window the interval is the prior's (+/-30 %, p10 ~681): offered
    # 540 / 600 / 660 put the p10 headroom at 1.26 / 1.13 / 1.03, around the 1.2 minimum
    rates: list[tuple[float, float, bool]] = []
    for offered in itertools.islice(itertools.cycle([540.0, 600.0, 660.0]), 120):
        rates.append((offered, offered, False))
    _run(database, engine, rates)
    alerts = [a for a in _alerts(database, engine) if a["kind"] == "low_headroom"]
    assert len(alerts) == 1 and alerts[0]["count"] == 1


def test_flapping_beyond_both_thresholds_is_one_event_with_a_count(
    database: Database, unique: str, stopped_after: list[int]
) -> None:
    engine = _engine(
        database,
        unique,
        {
            "error_threshold_pct": 25,
            "error_intervals": 1,
            "resolve_intervals": 1,
            "min_open_seconds": 2,
        },
        stopped_after,
    )
    # +43 % then +2 % three times each: fires, stays open its minimum, resolves, fires again
    rates = ([(700.0, 2000.0, True)] * 3 + [(980.0, 2000.0, True)] * 3) * 5
    _run(database, engine, rates)
    alerts = [a for a in _alerts(database, engine) if a["kind"] == "prediction_error"]
    assert len(alerts) == 1
    assert alerts[0]["count"] == 5 and alerts[0]["last_raised_at"] is not None


def test_resolve_thresholds_must_be_on_the_safe_side() -> None:
    with pytest.raises(ValueError, match="error_resolve_pct"):
        DeploymentSettings(error_threshold_pct=25, error_resolve_pct=30)
    with pytest.raises(ValueError, match="headroom_resolve"):
        DeploymentSettings(headroom_min=1.2, headroom_resolve=1.1)


def test_a_rule_event_that_comes_back_within_the_window_is_regrouped(database: Database) -> None:
    with database.session() as session:
        first = alerts_service.raise_event(
            session,
            source="system",
            kind="cpu_percent",
            open_key="test:regroup",
            message="hot",
            subject="regroup-host",
        )
        alerts_service.resolve_event(session, "test:regroup")
        again = alerts_service.raise_event(
            session,
            source="system",
            kind="cpu_percent",
            open_key="test:regroup",
            message="hot again",
            subject="regroup-host",
        )
        assert again == first
        # while open, raising again changes nothing
        assert (
            alerts_service.raise_event(
                session,
                source="system",
                kind="cpu_percent",
                open_key="test:regroup",
                message="still hot",
                subject="regroup-host",
            )
            is None
        )
        event = alerts_service.get_event(session, first or 0).model_dump()
        assert event["count"] == 2 and event["resolved_at"] is None
        assert event["message"] == "hot again"
        alerts_service.resolve_event(session, "test:regroup")
        # outside the window a new event starts
        fresh = alerts_service.raise_event(
            session,
            source="system",
            kind="cpu_percent",
            open_key="test:regroup",
            message="hot once more",
            subject="regroup-host",
            regroup_seconds=0,
        )
        assert fresh is not None and fresh != first
        alerts_service.resolve_event(session, "test:regroup")
