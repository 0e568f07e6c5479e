"""Leaderboards rank versions by their latest evaluation on a dataset."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.analytics import service as analytics_service
from modelyard.evaluations import _scores
from modelyard.evaluations import service as evaluations_service
from modelyard.evaluations.runner import Outcome
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.models import Dataset, Evaluation, EvaluationScore
from tests.conftest import Api
from tests.evaluations.test_api import SMALL_CSV, dataset, evaluate, linear_model, wait_for


def _evaluated(api: Api, model: str, dataset_id: int) -> dict:  # type: ignore[type-arg]
    created = evaluate(api, model=model, dataset=dataset_id, target="y")
    done = wait_for(api, created["id"])
    assert done["status"] == "succeeded", done
    return done


def test_leaderboard_ranks_by_metric_direction(editor: Api, viewer: Api, unique: str) -> None:
    data = dataset(editor, f"lb-{unique}", SMALL_CSV)
    good, bad = f"lb-good-{unique}", f"lb-bad-{unique}"
    linear_model(editor, good, 3.0, 1.2)
    linear_model(editor, bad, 0.0, 0.5)
    linear_model(editor, good, 2.0, 2.0)  # version 2 of the good model: worse than version 1
    scores = {
        (good, 1): _evaluated(editor, f"{good}/1", data)["metrics"],
        (bad, 1): _evaluated(editor, f"{bad}/1", data)["metrics"],
        (good, 2): _evaluated(editor, f"{good}/2", data)["metrics"],
    }

    board = viewer.get(
        "/analytics/leaderboard", params={"dataset": f"lb-{unique}", "metric": "mae"}
    ).json()
    assert board["direction"] == "lower"
    ranked = [(e["model"], e["version"]) for e in board["entries"]]
    assert ranked == sorted(scores, key=lambda key: scores[key]["mae"])
    assert [e["rank"] for e in board["entries"]] == [1, 2, 3]
    assert board["entries"][0]["value"] == scores[ranked[0]]["mae"]

    r2 = viewer.get("/analytics/leaderboard", params={"dataset": data, "metric": "r2"}).json()
    assert [(e["model"], e["version"]) for e in r2["entries"]] == sorted(
        scores, key=lambda k: -scores[k]["r2"]
    )


def test_unrankable_metric_and_unknown_dataset(viewer: Api) -> None:
    r = viewer.get("/analytics/leaderboard", params={"dataset": "nope-none", "metric": "mae"})
    assert r.status_code == 404
    r = viewer.get("/analytics/leaderboard", params={"dataset": "nope-none", "metric": "banana"})
    assert r.status_code == 400 and "cannot be ranked" in r.json()["detail"]


# --- the scores index, on both backends ---------------------------------------------------


def _succeeded(
    session: Session,
    dataset: Dataset,
    model: str,
    version: int,
    metrics: dict[str, float | None],
) -> Evaluation:
    """An evaluation of ``model/version`` completed now through the service."""
    row = Evaluation(
        model_name=model,
        version=version,
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        target="y",
        task="regression",
        chunk_rows=10,
        status="running",
        created_by="test",
    )
    session.add(row)
    session.flush()
    evaluations_service.complete(
        session,
        row.id,
        Outcome(rows=10, evaluated=10, skipped=0, seconds=0.1, metrics=metrics, details={}),
    )
    return row


def _dataset(session: Session, name: str) -> Dataset:
    row = Dataset(
        name=name,
        format="csv",
        compression="none",
        sha256="0" * 64,
        size_bytes=1,
        stored_bytes=1,
        storage_key=uuid.uuid4().hex,
        row_count=1,
        created_by="test",
    )
    session.add(row)
    session.flush()
    return row


def _board(session: Session, dataset: str, metric: str) -> list[tuple[str, int, float]]:
    entries = analytics_service.leaderboard(session, dataset, metric, 50).entries
    return [(e.model, e.version, e.value) for e in entries]


def test_the_newest_evaluation_of_a_version_is_the_one_ranked(
    database: Database, unique: str
) -> None:
    with database.session() as s:
        data = _dataset(s, f"idx-{unique}")
        a, b = f"idx-a-{unique}", f"idx-b-{unique}"
        _succeeded(s, data, a, 1, {"mae": 3.0, "r2": 0.5, "mean_error": -0.4})
        _succeeded(s, data, b, 1, {"mae": 2.0, "r2": 0.7, "mean_error": 0.3})
        assert _board(s, data.name, "mae") == [(b, 1, 2.0), (a, 1, 3.0)]
        assert _board(s, data.name, "r2") == [(b, 1, 0.7), (a, 1, 0.5)]
        assert _board(s, data.name, "mean_error") == [(b, 1, 0.3), (a, 1, -0.4)]
        # a.1 re-evaluated: its newer scores replace the older ones, a metric it no longer
        # has leaves the ranking, a metric without a value is never ranked
        _succeeded(s, data, a, 1, {"mae": 1.0, "r2": None})
        assert _board(s, data.name, "mae") == [(a, 1, 1.0), (b, 1, 2.0)]
        assert _board(s, data.name, "r2") == [(b, 1, 0.7)]
        assert _board(s, data.name, "mean_error") == [(b, 1, 0.3)]
        s.commit()


def test_an_older_evaluation_finishing_late_does_not_replace_a_newer_one(
    database: Database, unique: str
) -> None:
    with database.session() as s:
        data = _dataset(s, f"late-{unique}")
        model = f"late-{unique}"
        newer = _succeeded(s, data, model, 1, {"mae": 1.0})
        older = _succeeded(s, data, model, 1, {"mae": 9.0, "rmse": 9.0})
        older.finished_at = newer.finished_at - dt.timedelta(seconds=5)  # as if it had
        s.flush()  # finished first, and its scores were written after the newer one's
        s.execute(sa.delete(EvaluationScore).where(EvaluationScore.model_name == model))
        _scores.record(s, newer)
        _scores.record(s, older)
        assert _board(s, data.name, "mae") == [(model, 1, 1.0)]
        assert _board(s, data.name, "rmse") == []
        s.commit()


def test_the_migration_fills_the_index_from_stored_evaluations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url, "0011")
    db = Database(url)
    now = dt.datetime.now(dt.UTC)
    with db.session() as s:  # the tables as 0011 left them (the same columns as now)
        data = _dataset(s, "old")
        for version, minutes, metrics, status in (
            (1, 30, {"mae": 5.0, "r2": 0.1}, "succeeded"),
            (1, 10, {"mae": 4.0}, "succeeded"),  # v1's newest: no r2 any more
            (2, 20, {"mae": 2.0, "r2": 0.9, "count": 10}, "succeeded"),
            (2, 5, {"mae": 0.1}, "failed"),
        ):
            s.add(
                Evaluation(
                    model_name="m",
                    version=version,
                    dataset_id=data.id,
                    dataset_name=data.name,
                    target="y",
                    task="regression",
                    chunk_rows=10,
                    status=status,
                    metrics=metrics,
                    created_by="t",
                    finished_at=now - dt.timedelta(minutes=minutes),
                )
            )
        s.commit()
    migrate.upgrade(url)
    with db.session() as s:
        assert _board(s, "old", "mae") == [("m", 2, 2.0), ("m", 1, 4.0)]
        assert _board(s, "old", "r2") == [("m", 2, 0.9)]
    db.dispose()
