"""Importing an MLflow model registry: models, versions, aliases, tags, run metrics and
params, and the model files modelyard loads safely.

What becomes what:

- a registered model becomes a model of the same name (names modelyard does not accept are
  rewritten, and the original kept in the tag ``mlflow.name``), with its description, tags
  and aliases;
- a version keeps its number when the model has not used a higher one (so ``name/3`` refers
  to the same version in both registries), with its description and tags, its source, and the
  tags ``mlflow.version``, ``mlflow.run_id``, ``mlflow.status``, ``mlflow.stage``,
  ``mlflow.flavors``; its run's latest metric values become the version's metrics and the
  run's params its parameters;
- the model file comes along when the flavor is one modelyard loads safely: scikit-learn
  saved as skops (flavor ``sklearn``) or ONNX (``onnx``), and it must load (trusted skops
  types, a graph onnxruntime accepts, named inputs from the MLflow signature). Any other
  version (pickle or cloudpickle, which are refused as everywhere, or a flavor modelyard does
  not run) is registered as ``generic`` without its file and listed in the result with why.

A second run imports only what changed: versions are matched by ``mlflow.version``; new ones
are created, changed descriptions, tags and metrics updated, and model files are downloaded
for new versions only. Aliases are moved to match MLflow's, never removed; a protected alias
moves only as its protection allows (the submitter's role, the gate), else the refusal is in
the result. Each version is written in a transaction of its own, so a failure (reported in
the result) leaves the rest imported, and a cancelled run is resumed by running it again.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pydantic import JsonValue
from sqlalchemy.orm import Session

from modelyard.flavors import check_artifact
from modelyard.imports._mlflow import MlflowModel, MlflowReader, MlflowVersion, Run
from modelyard.imports.schemas import (
    ImportFailure,
    MlflowImportResult,
    Renamed,
    SkippedArtifact,
)
from modelyard.kit.errors import NotFound, ProblemError
from modelyard.registry import service as registry
from modelyard.registry.artifacts import ArtifactStore, StagedArtifact
from modelyard.registry.schemas import (
    MODEL_NAME_PATTERN,
    TAG_KEY_PATTERN,
    ModelCreate,
    ModelUpdate,
    VersionCreate,
    VersionUpdate,
)

SessionFactory = Callable[[], AbstractContextManager[Session]]
Progress = Callable[[int, int, str], None]

RESERVED_PARAMETERS = frozenset({"features", "task", "classes", "kind", "coef", "intercept"})
"""Run params that would mean something else to a flavor keep an ``mlflow.`` prefix."""
TAG_VALUE_CHARS = 500


def modelyard_names(names: list[str]) -> dict[str, str]:
    """A valid, distinct modelyard name for each MLflow model name."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        candidate = name
        if not re.fullmatch(MODEL_NAME_PATTERN, candidate):
            candidate = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-_.")[:190] or "mlflow-model"
            if not candidate[0].isalnum():
                candidate = "m" + candidate
        if candidate in taken:
            candidate = f"{candidate[:190]}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"
        taken.add(candidate)
        out[name] = candidate
    return out


def _tag_key(key: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.:/-]", "_", key)[:128]
    return clean if re.fullmatch(TAG_KEY_PATTERN, clean) else "tag"


def _tags(tags: dict[str, str]) -> dict[str, str]:
    return {_tag_key(k): v[:TAG_VALUE_CHARS] for k, v in tags.items()}


def _signature_features(mlmodel: dict[str, Any]) -> list[str] | None:
    """Column names of a column-based MLflow signature, in order."""
    raw = (mlmodel.get("signature") or {}).get("inputs")
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(specs, list) or not specs:
        return None
    names = [s.get("name") for s in specs if isinstance(s, dict)]
    if len(names) != len(specs) or not all(isinstance(n, str) and n for n in names):
        return None
    if any(s.get("type") == "tensor" for s in specs):
        return None
    return [str(n) for n in names]


def choose_flavor(
    mlmodel: Mapping[str, JsonValue] | None,
) -> tuple[str | None, str | None, str]:
    """(modelyard flavor, the file of the model directory to fetch, or why none) for a
    version's ``MLmodel``."""
    if mlmodel is None:
        return None, None, "the version has no MLmodel file (not an MLflow model directory)"
    flavors = mlmodel.get("flavors")
    if not isinstance(flavors, dict):
        flavors = {}
    sklearn = flavors.get("sklearn")
    if isinstance(sklearn, dict):
        fmt = sklearn.get("serialization_format") or "cloudpickle"
        if fmt == "skops":
            return "sklearn", str(sklearn.get("pickled_model") or "model.skops"), ""
        return (
            None,
            None,
            f"scikit-learn saved as {fmt}: pickle files are refused, since loading one runs "
            "arbitrary code; log it with serialization_format='skops' to import its file",
        )
    onnx = flavors.get("onnx")
    if isinstance(onnx, dict) and onnx.get("data"):
        return "onnx", str(onnx["data"]), ""
    names = ", ".join(sorted(flavors)) or "none"
    return (
        None,
        None,
        f"flavors {names}: modelyard loads scikit-learn saved as skops and ONNX; "
        "other flavors are registered without their files",
    )


def _version_tags(version: MlflowVersion, flavors: list[str]) -> dict[str, str]:
    tags = _tags(version.tags)
    tags["mlflow.version"] = str(version.version)
    tags["mlflow.status"] = version.status
    if version.run_id:
        tags["mlflow.run_id"] = version.run_id
    if version.stage:
        tags["mlflow.stage"] = version.stage
    if version.user_id:
        tags["mlflow.user_id"] = version.user_id[:TAG_VALUE_CHARS]
    if flavors:
        tags["mlflow.flavors"] = ",".join(flavors)[:TAG_VALUE_CHARS]
    return tags


def _parameters(run: Run | None) -> dict[str, Any]:
    params = run.params if run else {}
    return {(f"mlflow.{k}" if k in RESERVED_PARAMETERS else k): v for k, v in params.items()}


class MlflowImport:
    """One run of the importer (the ``import.mlflow`` job, or a test)."""

    def __init__(
        self,
        reader: MlflowReader,
        sessions: SessionFactory,
        store: ArtifactStore,
        *,
        actor: str,
        as_admin: bool,
        max_artifact_bytes: int,
        patterns: list[str] | None = None,
    ) -> None:
        self.reader = reader
        self.sessions = sessions
        self.store = store
        self.actor = actor
        self.as_admin = as_admin
        self.max_artifact_bytes = max_artifact_bytes
        self.patterns = patterns or []
        self.result = MlflowImportResult(tracking_uri=reader.base)

    def _selected(self) -> Iterator[MlflowModel]:
        for model in self.reader.models():
            if not self.patterns or any(fnmatch.fnmatchcase(model.name, p) for p in self.patterns):
                yield model

    def run(self, progress: Progress | None = None) -> MlflowImportResult:
        progress = progress or (lambda done, total, message: None)
        progress(0, 0, "listing models and versions")
        models = [
            MlflowModel(m.name, m.description, m.tags, m.aliases, self.reader.versions(m.name))
            for m in self._selected()
        ]
        names = modelyard_names([m.name for m in models])
        self.result.renamed = [Renamed(mlflow=k, modelyard=v) for k, v in names.items() if k != v]
        total = sum(len(m.versions) for m in models)
        done = 0
        for model in models:
            name = names[model.name]
            try:
                numbers = self._model(model, name)
            except (ProblemError, OSError, ValueError) as exc:
                self._failed(model.name, None, exc)
                continue
            for version in model.versions:
                progress(done, total, f"{model.name} version {version.version}")
                try:
                    numbers[version.version] = self._version(version, name, numbers)
                except Exception as exc:  # one bad version must not stop the rest
                    self._failed(model.name, version.version, exc)
                done += 1
            self._aliases(model, name, numbers)
        progress(total, total, "done")
        return self.result

    def _failed(self, model: str, version: int | None, exc: BaseException) -> None:
        detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
        self.result.failures.append(ImportFailure(model=model, version=version, error=detail))

    # -- models -------------------------------------------------------------------------
    def _model(self, model: MlflowModel, name: str) -> dict[int, int]:
        """Create or update the model; the MLflow version -> modelyard number map so far."""
        tags = _tags(model.tags) | {"mlflow.name": model.name[:TAG_VALUE_CHARS]}
        with self.sessions() as session:
            try:
                current = registry.get_model(session, name)
            except NotFound:
                registry.create_model(
                    session,
                    ModelCreate(name=name, description=model.description, tags=tags),
                    actor=self.actor,
                )
                self.result.models.created += 1
                return {}
            changed = {k: v for k, v in tags.items() if current.tags.get(k) != v}
            description = model.description if model.description != current.description else None
            if changed or description is not None:
                update = ModelUpdate(description=description, tags=dict(changed) or None)
                registry.update_model(
                    session, name, update, actor=self.actor, as_admin=self.as_admin
                )
                self.result.models.updated += 1
            else:
                self.result.models.unchanged += 1
            return self._imported_numbers(session, name)

    @staticmethod
    def _imported_numbers(session: Session, name: str) -> dict[int, int]:
        numbers: dict[int, int] = {}
        cursor: str | None = None
        while True:
            page = registry.list_versions(session, name, limit=1000, cursor=cursor)
            for row in page.items:
                mlflow_version = row.tags.get("mlflow.version", "")
                if mlflow_version.isdigit():
                    numbers[int(mlflow_version)] = row.version
            cursor = page.next_cursor
            if cursor is None:
                return numbers

    # -- versions -----------------------------------------------------------------------
    def _version(self, version: MlflowVersion, name: str, numbers: dict[int, int]) -> int:
        run = self.reader.run(version.run_id) if version.run_id else None
        metrics = dict(run.metrics) if run else {}
        if version.version in numbers:
            return self._update(version, name, numbers[version.version], metrics)
        mlmodel = self.reader.mlmodel(version)
        flavors = sorted((mlmodel or {}).get("flavors") or {})
        flavor, path, reason = choose_flavor(mlmodel)
        parameters = _parameters(run)
        staged: StagedArtifact | None = None
        try:
            if flavor is not None and path is not None and mlmodel is not None:
                features = _signature_features(mlmodel)
                if features:
                    parameters["features"] = features
                staged, reason = self._fetch(version, flavor, path, parameters)
            data = VersionCreate(
                flavor=flavor if staged is not None and flavor is not None else "generic",
                parameters=parameters,
                metrics=metrics,
                source=version.source[:1000],
                description=version.description[:10_000],
                tags=_version_tags(version, flavors),
            )
            with self.sessions() as session:
                artifact = None
                if staged is not None:
                    artifact = registry.Artifact(staged.sha256, staged.size, Path(path or "").name)
                row = registry.create_version(
                    session, name, data, artifact, actor=self.actor, number=version.version
                )
                if staged is not None:
                    self.store.promote(staged)
        finally:
            if staged is not None:
                self.store.discard(staged)
        self.result.versions.created += 1
        if staged is not None:
            self.result.artifacts_imported += 1
        else:
            self.result.without_artifact.append(
                SkippedArtifact(model=version.model, version=version.version, reason=reason)
            )
        return row.version

    def _fetch(
        self, version: MlflowVersion, flavor: str, path: str, parameters: dict[str, Any]
    ) -> tuple[StagedArtifact | None, str]:
        """The model file staged and proven to load, or None and why not."""
        downloaded = self.reader.download(version, path, max_bytes=self.max_artifact_bytes)
        if downloaded is None:
            return None, f"the model directory has no {path}"
        try:
            with downloaded.open("rb") as handle:
                staged = self.store.stage(
                    handle, max_bytes=self.max_artifact_bytes, filename=Path(path).name
                )
        except ProblemError as exc:  # a pickle under another name, or too large
            return None, exc.detail
        finally:
            downloaded.unlink(missing_ok=True)
        try:
            check_artifact(flavor, parameters, staged.path, limits=self.store.archive_limits)
        except ProblemError as exc:
            self.store.discard(staged)
            return None, f"the {flavor} file does not load: {exc.detail}"
        return staged, ""

    def _update(
        self, version: MlflowVersion, name: str, number: int, metrics: dict[str, float]
    ) -> int:
        with self.sessions() as session:
            current = registry.get_version(session, name, number)
            flavors = current.tags.get("mlflow.flavors", "")
            wanted_tags = _version_tags(version, flavors.split(",") if flavors else [])
            tags = {k: v for k, v in wanted_tags.items() if current.tags.get(k) != v}
            changed_metrics = {k: v for k, v in metrics.items() if current.metrics.get(k) != v}
            description = (
                version.description if version.description != current.description else None
            )
            if tags or changed_metrics or description is not None:
                update = VersionUpdate(
                    description=description,
                    metrics=changed_metrics or None,
                    tags=dict(tags) or None,
                )
                registry.update_version(session, name, str(number), update, actor=self.actor)
                self.result.versions.updated += 1
            else:
                self.result.versions.unchanged += 1
        return number

    # -- aliases ------------------------------------------------------------------------
    def _aliases(self, model: MlflowModel, name: str, numbers: dict[int, int]) -> None:
        for alias, mlflow_version in sorted(model.aliases.items()):
            number = numbers.get(mlflow_version)
            if number is None:
                continue  # the version failed to import; it is in the failures
            try:
                with self.sessions() as session:
                    current = registry.get_model(session, name).aliases.get(alias)
                    if current == number:
                        self.result.aliases.unchanged += 1
                        continue
                    registry.set_alias(
                        session, name, alias, number, actor=self.actor, as_admin=self.as_admin
                    )
                    self.result.aliases.set += 1
            except ProblemError as exc:
                self.result.aliases.refused += 1
                self.result.refused_aliases.append(
                    ImportFailure(model=model.name, version=mlflow_version, error=exc.detail)
                )
