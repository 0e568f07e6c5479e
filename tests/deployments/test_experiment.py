"""A shortened run of the tuning experiment on a real embedded RocksDB (seconds, not minutes).

It checks that the experiment runs end to end and scores both deployments on the same
windows after the shift; whether tuning wins is what the full-length `modelyard live
experiment` shows (see the README), not something a 20-second run on a shared machine can.
"""

from __future__ import annotations

import pytest

from modelyard.config import Settings
from modelyard.deployments.experiment import run_experiment
from modelyard.kit.db import Database
from modelyard.monitoring.store import MetricStore
from modelyard.storage import open_store
from modelyard.targets.factory import target_dir


@pytest.mark.slow
def test_short_experiment_scores_frozen_and_tuned_on_the_same_windows(
    database: Database, settings: Settings, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one real RocksDB run is enough; SQLite covers it")
    result = run_experiment(
        database,
        MetricStore(database.engine),
        settings.home,
        blobs=open_store(settings),
        value_before=100,
        value_after=1000,
        calibrate_seconds=5,
        before_seconds=5,
        after_seconds=8,
        window_intervals=2,
    )
    data = result.to_dict()
    assert data["windows_after_shift"] >= 1
    assert (
        data["frozen_median_abs_error_pct"] is not None
        and data["tuned_median_abs_error_pct"] is not None
    )
    assert data["calibrated_version"].endswith("/2")
    assert data["tuning_records"] >= 1
    assert set(data["reports"]) == {"frozen", "tuned"}
    with database.session() as session:
        from modelyard.targets.service import get_target

        target = get_target(session, data["target"])
        assert target.status == "stopped" and target.desired_state == "stopped"
    assert not target_dir(settings.home, target.id).exists()
