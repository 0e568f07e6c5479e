"""`modelyard demo`: what `make demo` loads, run as a user runs it, then served."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.cli.test_smax import RECORDED_MAPE
from tests.conftest import make_settings

from modelyard.app import create_app
from modelyard.kit.db import Database
from modelyard.models import Dataset, Deployment, Evaluation, Job, RegisteredModel, Target


def _demo(home: Path, *args: str) -> str:
    env = {**os.environ, "MODELYARD_HOME": str(home)}
    env.pop("MODELYARD_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "demo", "--no-serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _count(db: Database, table: type) -> int:
    with db.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


@pytest.mark.slow
def test_demo_loads_everything_and_the_server_runs_its_jobs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = _demo(home, "--no-live")
    assert "password" in out and "my_" in out
    url = f"sqlite:///{home / 'modelyard.db'}"
    db = Database(url)
    try:
        with db.session() as session:
            names = set(session.scalars(sa.select(RegisteredModel.name)))
            assert {"latency-linear", "disk-growth", "smax-resource", "smax-v1"} <= names
            assert "smax-profile.default" in names
            datasets = set(session.scalars(sa.select(Dataset.name)))
            assert {"latency-observations", "disk-growth-observations"} <= datasets
            # the recorded validation: one finished evaluation per S_max model kind
            recorded = session.scalars(
                sa.select(Evaluation).where(Evaluation.model_name == "smax-resource")
            ).one()
            assert recorded.status == "succeeded"
            assert recorded.metrics["mape"] == pytest.approx(100 * RECORDED_MAPE, abs=0.3)
        queued = _count(db, Job)
        assert queued == 6  # five demo versions evaluated, one weekly report
        assert _count(db, Target) == 0

        # running it again adds nothing
        _demo(home, "--no-live")
        assert _count(db, Job) == queued
        assert _count(db, Dataset) == 3

        settings = make_settings(home, url)
        with TestClient(create_app(settings)):
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with db.session() as session:
                    statuses = list(session.scalars(sa.select(Job.status)))
                if all(s in ("succeeded", "failed", "cancelled") for s in statuses):
                    break
                time.sleep(0.5)
        with db.session() as session:
            jobs = session.execute(sa.select(Job.kind, Job.status, Job.error)).all()
            assert all(status == "succeeded" for _, status, _ in jobs), jobs
            best = session.execute(
                sa.select(Evaluation.version, Evaluation.metrics)
                .where(Evaluation.model_name == "disk-growth")
                .order_by(Evaluation.version)
            ).all()
            mape = {version: metrics["mape"] for version, metrics in best}
            # the seeded observations follow the newest version most closely
            assert mape[3] < mape[2] < mape[1]
    finally:
        db.dispose()


def test_demo_live_creates_a_target_and_two_deployments(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _demo(home)
    db = Database(f"sqlite:///{home / 'modelyard.db'}")
    try:
        with db.session() as session:
            target = session.scalars(sa.select(Target)).one()
            assert target.kind == "rocksdb-embedded"
            deployments = {d.name: d.auto_tune for d in session.scalars(sa.select(Deployment))}
            assert deployments == {"demo-tuned": True, "demo-frozen": False}
    finally:
        db.dispose()
