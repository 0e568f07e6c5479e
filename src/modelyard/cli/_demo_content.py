"""What ``modelyard demo`` loads beyond the first models: S_max, datasets, jobs, a live target.

Each part is idempotent (it looks for what it would create and leaves it alone when found), so
``make demo`` can run again on the same home:

- **S_max**: the machine profile and the db_bench measurements recorded on this kind of
  machine (``demo_data/smax``) become the profile ``smax-profile.default@current`` (the name
  ``modelyard smax predict`` uses when given no ``--profile``), one
  ``smax-<kind>`` model per model kind and a validation dataset with one evaluation per kind,
  exactly as ``modelyard smax validate`` stores them; ``smax-resource@production`` is the
  resource model.
- **Observations**: two CSV datasets drawn from a seeded generator (p99 latency under load,
  disk growth), and an evaluation job for every demo version on its dataset, queued for the
  server's workers, so the jobs page fills as the server starts.
- **Live**: an embedded RocksDB target whose workload alternates paced and open-loop phases,
  followed by two deployments of ``rocksdb-smax@production``: one auto-tuned, one frozen.
- **Report**: a weekly performance report job, queued behind the evaluations.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.auth.schemas import Principal, Role
from modelyard.config import Settings
from modelyard.datasets import service as datasets_service
from modelyard.datasets.formats import Claims
from modelyard.datasets.store import DatasetStore, sha256_of
from modelyard.kit.db import Database
from modelyard.models import Dataset, Deployment, Job, RegisteredModel, Target, User
from modelyard.registry import service as registry
from modelyard.registry.artifacts import ArtifactStore
from modelyard.registry.schemas import ModelCreate, VersionCreate
from modelyard.storage import open_store

ACTOR = "demo"
RECORDED = Path(__file__).parent / "demo_data" / "smax"
LIVE_MODEL = "rocksdb-smax"
LIVE_TARGET = "demo-rocksdb"


@dataclass
class Loaded:
    """What one run of the demo added (empty lists: it was all there already)."""

    smax_models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)


def _exists(session: Session, column: Any, value: str) -> bool:
    return (session.scalar(sa.select(sa.func.count()).where(column == value)) or 0) > 0


# --- S_max: recorded profile and measurements ---------------------------------------------------


def recorded_profile() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / "profile_default.json").read_text())
    return data


def recorded_measurements() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text())
        for path in sorted((RECORDED / "measurements").glob("*.json"))
    }


def load_smax(database: Database) -> list[str]:
    """The recorded validation, stored the way ``modelyard smax validate`` stores it."""
    from modelyard.cli import _smax_store
    from modelyard.cli.smax import MODEL_KINDS, validation_table

    with database.session() as session:
        if _exists(session, RegisteredModel.name, "smax-resource"):
            return []
    profile = recorded_profile()
    _smax_store.save_profile(str(profile.get("name", "default")), profile)
    measured = recorded_measurements()
    matrix = [(name, m["db_bench_args"]) for name, m in measured.items()]
    table = validation_table(matrix, measured, profile, MODEL_KINDS)
    table["matrix"] = "recorded demo measurements"
    _smax_store.save_validation(table, profile)
    with database.session() as session:
        registry.set_alias(session, "smax-resource", "production", 1, actor=ACTOR)
    return ["smax-" + kind.removeprefix("smax_").replace("_", "-") for kind in MODEL_KINDS]


# --- observation datasets and evaluation jobs ---------------------------------------------------


def _latency_rows(rng: random.Random, count: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        instance = rng.choice(["small", "medium", "large"])
        offered = rng.uniform(5, 120)
        value_kb = rng.choice([0.1, 0.4, 1.0, 4.0])
        slow = {"small": 1.25, "medium": 1.0, "large": 0.85}[instance]
        p99 = slow * (0.62 + 0.0235 * offered + 0.32 * value_kb) + rng.gauss(0, 0.08)
        rows.append(
            {
                "offered_kops": round(offered, 3),
                "value_kb": value_kb,
                "instance": instance,
                "p99_ms": round(max(p99, 0.05), 4),
            }
        )
    return rows


def _disk_rows(rng: random.Random, count: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        ingest = rng.uniform(0.5, 40)
        ratio = rng.uniform(1.0, 4.0)
        growth = 0.1 + 58.2 * ingest - 2.7 * ratio + rng.gauss(0, 0.02 * 58 * ingest + 0.5)
        rows.append(
            {
                "ingest_mb_s": round(ingest, 3),
                "compression_ratio": round(ratio, 3),
                "region": rng.choice(["eu", "us"]),
                "gb_per_day": round(max(growth, 0.0), 3),
            }
        )
    return rows


DATASETS: dict[str, tuple[str, Any, int]] = {
    "latency-observations": (
        "p99 write latency observed across instance sizes (seeded, for the demo).",
        _latency_rows,
        20_000,
    ),
    "disk-growth-observations": (
        "Daily disk growth against ingest rate and compression (seeded, for the demo).",
        _disk_rows,
        5_000,
    ),
}

# (model, dataset, target column, slice column)
EVALUATIONS = [
    ("latency-linear", "latency-observations", "p99_ms", "instance"),
    ("disk-growth", "disk-growth-observations", "gb_per_day", "region"),
]


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def load_datasets(database: Database, settings: Settings) -> list[str]:
    store = DatasetStore.of(open_store(settings), settings)
    added = []
    rng = random.Random(20261122)
    for name, (description, make_rows, count) in DATASETS.items():
        rows = make_rows(rng, count)
        with database.session() as session:
            if _exists(session, Dataset.name, name):
                continue
        raw = store.temp_path()
        raw.write_bytes(_csv_bytes(rows))
        datasets_service.register_file(
            database,
            store,
            raw,
            sha256=sha256_of(raw),
            size=raw.stat().st_size,
            filename=f"{name}.csv",
            name=name,
            description=description,
            claims=Claims(format="csv", compression="none", source="modelyard demo"),
            actor=ACTOR,
        )
        added.append(name)
    return added


def _principal(session: Session, admin: str) -> Principal:
    user = session.scalars(sa.select(User).where(User.name == admin)).one()
    return Principal(id=user.id, name=user.name, role=Role(user.role))


def queue_jobs(database: Database, settings: Settings, admin: str) -> list[int]:
    """An evaluation job per demo version, then a weekly report: queued for the server."""
    import modelyard.tasks  # noqa: F401  (registers the job kinds)
    from modelyard.evaluations import service as evaluations_service
    from modelyard.evaluations.schemas import EvaluationCreate
    from modelyard.jobs import service as jobs_service
    from modelyard.jobs.runtime import JobRuntime

    runtime = JobRuntime(settings, database)  # submits only: the server's workers run them
    queued: list[int] = []
    try:
        with database.session() as session:
            if session.scalar(sa.select(sa.func.count()).select_from(Job)):
                return []
            principal = _principal(session, admin)
            artifacts = ArtifactStore.of(runtime.store, settings)
            for model, dataset, target, slice_by in EVALUATIONS:
                versions = registry.list_versions(session, model, limit=100, cursor=None)
                for version in sorted(v.version for v in versions.items):
                    created = evaluations_service.submit(
                        session,
                        EvaluationCreate(
                            model=f"{model}/{version}",
                            dataset=dataset,
                            target=target,
                            slice_by=slice_by,
                        ),
                        principal,
                        artifacts=artifacts,
                        jobs=runtime,
                    )
                    queued.append(created.job.id)
            report = jobs_service.submit(
                session,
                runtime,
                kind="weekly_report",
                params={"days": 7, "end": None},
                priority="low",
                submitted_by=principal,
            )
            queued.append(report.id)
    finally:
        runtime.stop(grace_seconds=0)
    return queued


# --- live: an embedded RocksDB and two deployments ------------------------------------------------


def _workload() -> dict[str, Any]:
    """Open-loop bursts (each one measures S_max, and the tuned deployment learns from it),
    each followed by a paced phase (headroom visible); it starts with a burst, so within the
    first two minutes the tuned deployment has measured windows to beat the frozen one on.
    After about 35 minutes it holds a gentle pace."""
    phases: list[dict[str, Any]] = []
    for cycle in range(6):
        value = [100, 400, 1000][cycle % 3]
        phases += [
            {
                "name": f"burst {value} B",
                "duration_seconds": 90,
                "rate": None,
                "value_size": value,
            },
            {
                "name": f"paced {value} B",
                "duration_seconds": 240,
                "rate": 4000,
                "value_size": value,
            },
        ]
    phases.append({"name": "gentle", "duration_seconds": 0, "rate": 1000, "value_size": 400})
    return {
        "phases": phases,
        "then": "hold",
        "options": {"write_buffer_size": 4 << 20, "compression": "none"},
    }


def load_live(database: Database) -> list[str]:
    from modelyard.deployments import service as deployment_service
    from modelyard.deployments.experiment import PRIOR_PROFILE
    from modelyard.deployments.schemas import DeploymentCreate
    from modelyard.targets import service as target_service
    from modelyard.targets.schemas import EmbeddedTargetCreate

    with database.session() as session:
        if _exists(session, Target.name, LIVE_TARGET):
            return []
        if not _exists(session, RegisteredModel.name, LIVE_MODEL):
            registry.create_model(
                session,
                ModelCreate(
                    name=LIVE_MODEL,
                    description="S_max of the demo's embedded RocksDB: the resource model from "
                    "a generic prior, refined online by the auto-tuned deployment.",
                    tags={"family": "smax", "target": "rocksdb-embedded"},
                ),
                actor=ACTOR,
            )
            registry.create_version(
                session,
                LIVE_MODEL,
                VersionCreate(
                    flavor="formula",
                    parameters={"kind": "smax_resource", "profile": PRIOR_PROFILE},
                    source="demo",
                    description="generic prior (orders of magnitude, not calibrated)",
                ),
                None,
                actor=ACTOR,
            )
            registry.set_alias(session, LIVE_MODEL, "production", 1, actor=ACTOR)
        target_service.create_target(
            session,
            EmbeddedTargetCreate.model_validate(
                {
                    "name": LIVE_TARGET,
                    "kind": "rocksdb-embedded",
                    "config": {"workload": _workload()},
                }
            ),
            actor=ACTOR,
        )
        names = []
        for name, tuned in (("demo-tuned", True), ("demo-frozen", False)):
            if _exists(session, Deployment.name, name):
                continue
            deployment_service.create_deployment(
                session,
                DeploymentCreate(
                    name=name, target=LIVE_TARGET, model=f"{LIVE_MODEL}@production", auto_tune=tuned
                ),
                actor=ACTOR,
            )
            names.append(name)
    return names


def load_all(database: Database, settings: Settings, admin: str, *, live: bool) -> Loaded:
    loaded = Loaded()
    loaded.smax_models = load_smax(database)
    loaded.datasets = load_datasets(database, settings)
    loaded.jobs = queue_jobs(database, settings, admin)
    if live:
        loaded.deployments = load_live(database)
    return loaded
