"""The proof-of-effect experiment: one shifting workload, a frozen and a tuned deployment.

1. A model version (``smax_resource`` with a generic prior profile) is registered.
2. An embedded RocksDB target runs open-loop at its maximum (every interval saturated, so every
   interval measures S_max) with ``value_before`` byte values, then shifts to ``value_after``.
3. During the first ``calibrate_seconds`` an auto-tuned deployment calibrates the version on
   the running system; its parameters are saved as a new version: the version under test, fitted
   on the workload before the shift.
4. Two deployments of that version follow the same target: one frozen, one auto-tuned.
5. After the shift, both are scored on the same saturated windows: the median absolute error of
   predicted against measured S_max in the ``after_seconds`` after the shift.

Everything measured is real: the rates come from the RocksDB the worker process drives, the CPU
from /proc; nothing is simulated or synthetic.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.deployments import service as deployment_service
from modelyard.deployments._engine import IntervalResult
from modelyard.deployments.live import LiveSupervisor
from modelyard.deployments.report import build_report, write_report
from modelyard.deployments.schemas import (
    DeploymentCreate,
    DeploymentOut,
    DeploymentSettings,
    SaveTuned,
)
from modelyard.kit.db import Database
from modelyard.kit.time import utcnow
from modelyard.monitoring.store import MetricStore
from modelyard.registry import service as registry_service
from modelyard.registry.schemas import ModelCreate, VersionCreate
from modelyard.storage import BlobStore
from modelyard.targets import service as target_service
from modelyard.targets.base import Interval
from modelyard.targets.factory import target_dir
from modelyard.targets.schemas import EmbeddedTargetCreate, TargetOut

if TYPE_CHECKING:
    from modelyard.cache import Cache

__all__ = ["PRIOR_PROFILE", "ExperimentResult", "run_experiment"]

# A generic starting point (orders of magnitude, not this machine's calibration): the
# calibration phase replaces it with what the running system shows.
PRIOR_PROFILE: dict[str, Any] = {
    "name": "generic-prior",
    "cores": 2,
    "cpu_available_cores": 2.0,
    "foreground_cpu_sec_per_op": 5e-6,
    "foreground_cpu_sec_per_byte": 0.0,
    "flush_costs": {"default": {"cpu_sec_per_record": 2e-7, "cpu_sec_per_byte": 2e-9}},
    "compaction_costs": {"default": {"cpu_sec_per_record": 5e-7, "cpu_sec_per_byte": 3e-9}},
}


@dataclass
class ExperimentResult:
    frozen_median_abs_error_pct: float | None
    tuned_median_abs_error_pct: float | None
    improvement_pct: float | None
    windows_after_shift: int
    frozen_before_shift_pct: float | None
    tuned_before_shift_pct: float | None
    calibrated_version: str
    model: str
    target: str
    deployments: dict[str, str]
    tuning_records: int
    measured_after_shift_ops_per_sec: float | None
    parameters: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    reports: dict[str, str] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, with_timeline: bool = False) -> dict[str, Any]:
        data = dict(self.__dict__)
        if not with_timeline:
            data.pop("timeline")
        return data


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _workload(
    value_before: int,
    value_after: int,
    shift_at: float,
    after_seconds: float,
    phase_before: dict[str, Any] | None = None,
    phase_after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The embedded target's workload: values of one size, then of another, then it stops;
    ``phase_before`` and ``phase_after`` override either phase's fields."""
    return {
        "phases": [
            {
                "name": f"values {value_before} B",
                "duration_seconds": shift_at,
                "value_size": value_before,
                "rate": None,
                **(phase_before or {}),
            },
            {
                "name": f"values {value_after} B",
                "duration_seconds": after_seconds + 2,
                "value_size": value_after,
                "rate": None,
                **(phase_after or {}),
            },
        ],
        "then": "stop",
        "options": {"write_buffer_size": 4 << 20, "compression": "none"},
    }


@dataclass(frozen=True)
class _Scores:
    """The frozen and tuned deployments' median absolute errors on the saturated intervals
    both evaluated, before and after the shift."""

    frozen_after: float | None
    tuned_after: float | None
    frozen_before: float | None
    tuned_before: float | None
    windows_after: int
    measured_after: float | None

    @property
    def improvement(self) -> float | None:
        if not self.frozen_after or self.tuned_after is None:
            return None
        return (1 - self.tuned_after / self.frozen_after) * 100.0


def _score(timeline: list[dict[str, Any]], shift: int | None, after_seconds: float) -> _Scores:
    by: dict[str, dict[int, dict[str, Any]]] = {"frozen": {}, "tuned": {}}
    for row in timeline:
        if row["deployment"] in by and row["saturated"] and row["error_pct"] is not None:
            by[row["deployment"]][row["ts_ms"]] = row
    common = sorted(set(by["frozen"]) & set(by["tuned"]))
    after = [t for t in common if shift is not None and shift <= t < shift + after_seconds * 1000]
    before = [t for t in common if shift is not None and t < shift]

    def errors(name: str, stamps: list[int]) -> float | None:
        return _median([abs(float(by[name][t]["error_pct"])) for t in stamps])

    return _Scores(
        frozen_after=errors("frozen", after),
        tuned_after=errors("tuned", after),
        frozen_before=errors("frozen", before),
        tuned_before=errors("tuned", before),
        windows_after=len(after),
        measured_after=_median([float(by["tuned"][t]["actual"]) for t in after]),
    )


def _set_up(
    db: Database,
    supervisor: LiveSupervisor,
    *,
    model: str,
    stamp: str,
    workload: dict[str, Any],
    settings: DeploymentSettings,
    actor: str,
) -> tuple[TargetOut, DeploymentOut]:
    """The model with its generic prior, the embedded target (leased to ``supervisor``) and
    the calibrating deployment."""
    with db.session() as session:
        registry_service.create_model(
            session, ModelCreate(name=model, description="Live experiment"), actor=actor
        )
        registry_service.create_version(
            session,
            model,
            VersionCreate(
                flavor="formula",
                parameters={"kind": "smax_resource", "profile": PRIOR_PROFILE},
                description="generic prior",
            ),
            None,
            actor=actor,
        )
        target = target_service.create_target(
            session,
            EmbeddedTargetCreate.model_validate(
                {
                    "name": f"experiment-{stamp}",
                    "kind": "rocksdb-embedded",
                    "config": {"workload": workload},
                }
            ),
            actor=actor,
        )
        # this run's own loop holds the lease, so a server on the same database leaves it alone
        target_service.hold_lease(session, target.id, supervisor.owner, 300)
        calibration = deployment_service.create_deployment(
            session,
            DeploymentCreate(
                name=f"experiment-{stamp}-calibration",
                target=target.name,
                model=f"{model}/1",
                auto_tune=True,
                settings=settings,
            ),
            actor=actor,
        )
    return target, calibration


def run_experiment(
    db: Database,
    store: MetricStore,
    home: Path,
    *,
    blobs: BlobStore,
    value_before: int = 100,
    value_after: int = 1000,
    calibrate_seconds: float = 20.0,
    before_seconds: float = 15.0,
    after_seconds: float = 60.0,
    window_intervals: int = 10,
    actor: str = "experiment",
    progress: Callable[[str], None] = lambda _: None,
    wait: Callable[[float], None] = time.sleep,
    cache: Cache | None = None,
    phase_before: dict[str, Any] | None = None,
    phase_after: dict[str, Any] | None = None,
    on_shift: Callable[[], None] | None = None,
) -> ExperimentResult:
    """Run the experiment; ``phase_before`` and ``phase_after`` override the workload phase's
    fields on either side of the shift (threads, key distribution, get fraction, ...: see
    :class:`~modelyard.targets.embedded.Phase`), and ``on_shift`` runs when the loop sees the
    first interval after it (a change outside the workload, such as a noisy neighbour)."""
    stamp = utcnow().strftime("%Y%m%d-%H%M%S-%f")
    model = f"live-experiment-{stamp}"
    workload = _workload(
        value_before,
        value_after,
        calibrate_seconds + before_seconds,
        after_seconds,
        phase_before,
        phase_after,
    )
    settings = DeploymentSettings(
        window_intervals=window_intervals, tune_every=max(1, min(5, window_intervals))
    )
    supervisor = LiveSupervisor(db, store, home, cache=cache)
    target, calibration = _set_up(
        db,
        supervisor,
        model=model,
        stamp=stamp,
        workload=workload,
        settings=settings,
        actor=actor,
    )
    supervisor.only_targets = {target.id}
    timeline: list[dict[str, Any]] = []
    names: dict[int, str] = {calibration.id: "calibration"}
    shift_ts: list[int] = []

    def listen(deployment_id: int, evaluation: IntervalResult, interval: Interval) -> None:
        if interval.configuration.get("phase_index") == 1 and not shift_ts:
            shift_ts.append(interval.ts_ms)
            if on_shift is not None:
                on_shift()
        timeline.append(
            {
                "deployment": names.get(deployment_id, str(deployment_id)),
                **evaluation.to_dict(),
                "phase_index": interval.configuration.get("phase_index"),
            }
        )

    supervisor.listeners.append(listen)
    supervisor.start()
    try:
        progress(f"calibrating on {value_before} B values for {calibrate_seconds:.0f} s")
        wait(calibrate_seconds)
        # on a busy machine the first adjustment can come late: give it as long again
        deadline = time.monotonic() + calibrate_seconds
        while time.monotonic() < deadline:
            with db.session() as session:
                if deployment_service.get_deployment(session, calibration.id).tuned_parameters:
                    break
            wait(0.5)
        with db.session() as session:
            saved = deployment_service.save_tuned_version(
                session,
                calibration.id,
                SaveTuned(description=f"calibrated live on {value_before} B values"),
                actor=actor,
            )
            deployment_service.stop_deployment(session, calibration.id, actor=actor)
            version_ref = f"{model}/{saved.version}"
            frozen = deployment_service.create_deployment(
                session,
                DeploymentCreate(
                    name=f"experiment-{stamp}-frozen",
                    target=target.name,
                    model=version_ref,
                    auto_tune=False,
                    settings=settings,
                ),
                actor=actor,
            )
            tuned = deployment_service.create_deployment(
                session,
                DeploymentCreate(
                    name=f"experiment-{stamp}-tuned",
                    target=target.name,
                    model=version_ref,
                    auto_tune=True,
                    settings=settings,
                ),
                actor=actor,
            )
        names[frozen.id] = "frozen"
        names[tuned.id] = "tuned"
        progress(
            f"frozen and tuned deployments of {version_ref} follow; shift to {value_after} B in {before_seconds:.0f} s"
        )
        # the workload ends by itself; on a busy machine the loop may still be evaluating the
        # last intervals then, and every one of them is scored, so wait for the loop too
        deadline = time.monotonic() + before_seconds + after_seconds + 300
        while time.monotonic() < deadline:
            with db.session() as session:
                status = target_service.get_target(session, target.id).status
            if status == "stopped":
                break
            wait(1.0)
        progress("workload finished; scoring")
    finally:
        supervisor.stop()
        with db.session() as session:
            for deployment_id in names:
                deployment_service.stop_deployment(session, deployment_id, actor=actor)
            target_service.set_desired_state(session, target.id, "stopped", actor=actor)
        # the metrics, records and reports stay; the database the workload wrote does not
        shutil.rmtree(target_dir(home, target.id), ignore_errors=True)

    scores = _score(timeline, shift_ts[0] if shift_ts else None, after_seconds)
    with db.session() as session:
        tuning = deployment_service.list_tuning(session, tuned.id)
        frozen_row = deployment_service.get_deployment(session, frozen.id)
        tuned_row = deployment_service.get_deployment(session, tuned.id)
        parameters = {
            "frozen": dict(frozen_row.tuned_parameters),
            "tuned": dict(tuned_row.tuned_parameters),
        }
    reports: dict[str, str] = {}
    for label, created in (("frozen", frozen), ("tuned", tuned)):
        with db.session() as session:
            built = build_report(session, store, created.id)
        keys = write_report(built, blobs)
        reports[label] = f"/api/deployments/{created.id}/report/html ({keys['html']})"
    return ExperimentResult(
        frozen_median_abs_error_pct=scores.frozen_after,
        tuned_median_abs_error_pct=scores.tuned_after,
        improvement_pct=scores.improvement,
        windows_after_shift=scores.windows_after,
        frozen_before_shift_pct=scores.frozen_before,
        tuned_before_shift_pct=scores.tuned_before,
        calibrated_version=version_ref,
        model=model,
        target=target.name,
        deployments={
            "frozen": frozen.name,
            "tuned": tuned.name,
            "calibration": calibration.name,
        },
        tuning_records=len(tuning),
        reports=reports,
        measured_after_shift_ops_per_sec=scores.measured_after,
        parameters=parameters,
        settings={
            "value_before": value_before,
            "value_after": value_after,
            "calibrate_seconds": calibrate_seconds,
            "before_seconds": before_seconds,
            "after_seconds": after_seconds,
            "window_intervals": window_intervals,
        },
        timeline=timeline,
    )
