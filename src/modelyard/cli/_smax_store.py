"""Where ``modelyard smax`` keeps what it makes: the registry.

- A calibration is a version of the model ``smax-profile.<name>`` (flavor ``smax_profile``,
  the profile as its parameters); the alias ``@current`` follows the newest.
- A validation becomes a dataset (one row per configuration: its db_bench arguments, the CPU
  it had, the measured S_max and each model's prediction), one formula version per model kind
  (``smax-<kind>``, the profile in its parameters), and one evaluation per kind on that dataset
  with MAPE, MAE, max error ... and the per-configuration rows in its details.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.config import Settings
from modelyard.datasets import service as datasets_service
from modelyard.datasets.formats import Claims
from modelyard.datasets.store import DatasetStore, sha256_of
from modelyard.evaluations import service as evaluations_service
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.kit.errors import NotFound
from modelyard.models import Dataset, ModelVersion, RegisteredModel
from modelyard.registry import service as registry
from modelyard.registry.schemas import ModelCreate, VersionCreate
from modelyard.storage import open_store

ACTOR = "smax-cli"
PROFILE_PREFIX = "smax-profile."


def _database() -> Database:
    settings = Settings()  # read now: tests and scripts change MODELYARD_HOME between calls
    settings.home.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    return Database(settings.resolved_database_url)


def _ensure_model(session: Any, name: str, description: str, tags: dict[str, str]) -> None:
    if session.scalar(sa.select(RegisteredModel.id).where(RegisteredModel.name == name)) is None:
        registry.create_model(
            session, ModelCreate(name=name, description=description, tags=tags), actor=ACTOR
        )


def _version_with(
    session: Any, model: str, flavor: str, parameters: dict[str, Any], source: str, description: str
) -> int:
    """The newest version with exactly these parameters, or a new one."""
    latest = session.execute(
        sa.select(ModelVersion.version, ModelVersion.parameters)
        .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .where(RegisteredModel.name == model)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.parameters == parameters:
        return int(latest.version)
    created = registry.create_version(
        session,
        model,
        VersionCreate(flavor=flavor, parameters=parameters, source=source, description=description),
        None,
        actor=ACTOR,
    )
    return created.version


def save_profile(name: str, profile: dict[str, Any]) -> str:
    model = PROFILE_PREFIX + name
    db = _database()
    try:
        with db.session() as session:
            _ensure_model(
                session,
                model,
                f"Machine profile '{name}' for RocksDB S_max predictions.",
                {"kind": "smax_profile"},
            )
            version = _version_with(
                session, model, "smax_profile", profile, "modelyard smax calibrate", "calibration"
            )
            registry.set_alias(session, model, "current", version, actor=ACTOR)
    finally:
        db.dispose()
    return f"{model}/{version} (@current)"


def load_profile(name: str) -> dict[str, Any] | None:
    """The profile ``name`` from the registry; reading never creates a database (a missing
    one is :class:`~modelyard.cli._context.NoDatabase`, one sentence)."""
    from modelyard.cli._context import open_database

    db = open_database(Settings().resolved_database_url)
    try:
        with db.session() as session:
            try:
                resolved = registry.resolve(session, f"{PROFILE_PREFIX}{name}@current")
            except NotFound:
                return None
            return dict(resolved.parameters)
    finally:
        db.dispose()


def _validation_csv(table: dict[str, Any], kinds: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "configuration",
            "db_bench_args",
            "cpu_available_cores",
            "measured_ops_per_sec",
            *[f"predicted_{k}" for k in kinds],
        ]
    )
    for row in table["rows"]:
        writer.writerow(
            [
                row["name"],
                row["db_bench_args"],
                row["cpu_available_cores"],
                row["measured_ops_per_sec"],
                *[row["predictions"].get(k, {}).get("smax_ops_per_sec") for k in kinds],
            ]
        )
    return buffer.getvalue().encode()


def _free_dataset_name(session: Session, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... when validations in the same second took it."""
    taken = set(
        session.scalars(
            sa.select(Dataset.name).where(Dataset.name.startswith(base, autoescape=True))
        )
    )
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def save_validation(table: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Register the table; returns the dataset and the evaluation of each model kind."""
    settings = Settings()
    kinds = [k for k in table["summary"] if "@" not in k]
    rows = [r for r in table["rows"] if r["measured_ops_per_sec"]]
    stamp = str(table["created_at"]).replace(":", "").replace("+0000", "Z")
    store = DatasetStore.of(open_store(settings), settings)
    raw = store.temp_path()
    raw.write_bytes(_validation_csv({"rows": rows}, kinds))
    db = _database()
    with db.session() as session:
        name = _free_dataset_name(session, f"smax-validation-{stamp}")
    try:
        dataset = datasets_service.register_file(
            db,
            store,
            raw,
            sha256=sha256_of(raw),
            size=raw.stat().st_size,
            filename="smax-validation.csv",
            name=name,
            description=f"S_max measured with db_bench (Luo & Carey bisection), profile {table.get('profile')}",
            claims=Claims(format="csv", compression="none", source="modelyard smax validate"),
            actor=ACTOR,
        )
        evaluations: dict[str, int] = {}
        with db.session() as session:
            found = datasets_service.get(session, dataset.id)
            for kind in kinds:
                model = "smax-" + kind.removeprefix("smax_").replace("_", "-")
                _ensure_model(
                    session, model, f"RocksDB S_max, model kind {kind}.", {"family": "smax"}
                )
                version = _version_with(
                    session,
                    model,
                    "formula",
                    {"kind": kind, "profile": profile},
                    "modelyard smax validate",
                    f"{kind} with profile {table.get('profile')}",
                )
                resolved = registry.resolve(session, f"{model}/{version}")
                out = evaluations_service.record_external(
                    session,
                    resolved=resolved,
                    dataset=found,
                    target="measured_ops_per_sec",
                    y_true=[r["measured_ops_per_sec"] for r in rows],
                    y_pred=[r["predictions"][kind]["smax_ops_per_sec"] for r in rows],
                    details={
                        "source": "modelyard smax validate",
                        "cpu_from": table.get("cpu_from"),
                        "rows": [
                            {
                                "configuration": r["name"],
                                "measured": r["measured_ops_per_sec"],
                                "predicted": r["predictions"][kind]["smax_ops_per_sec"],
                                "error": r["predictions"][kind]["error"],
                            }
                            for r in rows
                        ],
                    },
                    actor=ACTOR,
                )
                evaluations[kind] = out.id
    finally:
        db.dispose()
        store.discard(raw)
    return {"dataset": dataset.name, "dataset_id": dataset.id, "evaluations": evaluations}


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
