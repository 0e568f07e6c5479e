"""What the MLflow importer reads from an MLflow tracking server, over its REST API.

Only documented, read-only calls: ``registered-models/search`` and ``model-versions/search``
(paged), ``runs/get`` for a version's run, and the server's ``model-versions/get-artifact``,
which streams one file of a version's model directory (``MLmodel``, then the model file its
flavor names) whatever artifact store the server uses. Downloads stream to a temporary file
with a size limit. The ``MLmodel`` file is YAML, read with ``yaml.safe_load`` (no objects).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from modelyard import __version__

API = "/api/2.0/mlflow"
PAGE = 100


class MlflowError(Exception):
    """The MLflow server answered with an error, or not at all."""


@dataclass(frozen=True)
class MlflowVersion:
    model: str
    version: int
    source: str
    run_id: str | None
    status: str
    stage: str | None
    description: str
    tags: dict[str, str]
    user_id: str | None
    created_ms: int | None
    updated_ms: int | None


@dataclass(frozen=True)
class MlflowModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: list[MlflowVersion] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    metrics: dict[str, float]
    params: dict[str, str]


def _tags(raw: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in raw or []}


class MlflowReader:
    def __init__(self, tracking_uri: str, *, timeout: float = 30.0) -> None:
        self.base = tracking_uri.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base,
            timeout=timeout,
            follow_redirects=False,
            headers={"user-agent": f"modelyard/{__version__} (mlflow import)"},
        )

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        try:
            response = self.http.get(API + path, params=params)
        except httpx.HTTPError as exc:
            raise MlflowError(f"MLflow at {self.base} could not be reached: {exc}") from exc
        if response.status_code != 200:
            raise MlflowError(
                f"MLflow answered {response.status_code} to GET {path}: {response.text[:300]}"
            )
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise MlflowError(f"MLflow's answer to GET {path} is not JSON") from exc
        return body

    def _pages(self, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            body = self._get(path, **params, **({"page_token": token} if token else {}))
            yield from body.get(key, [])
            token = body.get("next_page_token")
            if not token:
                return

    def models(self) -> Iterator[MlflowModel]:
        for raw in self._pages("/registered-models/search", "registered_models", max_results=PAGE):
            yield MlflowModel(
                name=str(raw["name"]),
                description=str(raw.get("description") or ""),
                tags=_tags(raw.get("tags")),
                aliases={str(a["alias"]): int(a["version"]) for a in raw.get("aliases") or []},
            )

    def versions(self, model: str) -> list[MlflowVersion]:
        quote = '"' if "'" in model else "'"
        found = [
            MlflowVersion(
                model=model,
                version=int(raw["version"]),
                source=str(raw.get("source") or ""),
                run_id=raw.get("run_id") or None,
                status=str(raw.get("status") or ""),
                stage=raw.get("current_stage")
                if raw.get("current_stage") not in (None, "None")
                else None,
                description=str(raw.get("description") or ""),
                tags=_tags(raw.get("tags")),
                user_id=raw.get("user_id") or None,
                created_ms=raw.get("creation_timestamp"),
                updated_ms=raw.get("last_updated_timestamp"),
            )
            for raw in self._pages(
                "/model-versions/search",
                "model_versions",
                filter=f"name={quote}{model}{quote}",
                max_results=PAGE,
            )
        ]
        return sorted(found, key=lambda v: v.version)

    def run(self, run_id: str) -> Run | None:
        """The run's latest metric values and its params; None when the run is gone."""
        try:
            body = self._get("/runs/get", run_id=run_id)
        except MlflowError:
            return None
        data = body.get("run", {}).get("data", {})
        return Run(
            metrics={
                str(m["key"]): float(m["value"])
                for m in data.get("metrics") or []
                if isinstance(m.get("value"), int | float)
            },
            params={str(p["key"]): str(p.get("value", "")) for p in data.get("params") or []},
        )

    def mlmodel(self, version: MlflowVersion) -> dict[str, Any] | None:
        """The version's ``MLmodel`` file, parsed; None when it has none."""
        import yaml

        path = self.download(version, "MLmodel", max_bytes=1 << 20)
        if path is None:
            return None
        try:
            parsed = yaml.safe_load(path.read_text(errors="replace"))
        except yaml.YAMLError as exc:
            raise MlflowError(
                f"the MLmodel file of {version.model}/{version.version}: {exc}"
            ) from exc
        finally:
            path.unlink(missing_ok=True)
        return parsed if isinstance(parsed, dict) else None

    def download(self, version: MlflowVersion, path: str, *, max_bytes: int) -> Path | None:
        """One file of the version's model directory as a temporary file (the caller removes
        it); None when the server has no such file."""
        params = {"name": version.model, "version": str(version.version), "path": path}
        handle, name = tempfile.mkstemp(prefix="mlflow-import-")
        size = 0
        try:
            with (
                os.fdopen(handle, "wb") as out,
                self.http.stream("GET", "/model-versions/get-artifact", params=params) as response,
            ):
                if response.status_code in (400, 404):
                    Path(name).unlink(missing_ok=True)
                    return None
                if response.status_code != 200:
                    raise MlflowError(
                        f"MLflow answered {response.status_code} for {path} of "
                        f"{version.model}/{version.version}"
                    )
                for chunk in response.iter_bytes(1 << 20):
                    size += len(chunk)
                    if size > max_bytes:
                        raise MlflowError(
                            f"{path} of {version.model}/{version.version} is larger than "
                            f"{max_bytes} bytes (MODELYARD_STORAGE__MAX_ARTIFACT_BYTES)"
                        )
                    out.write(chunk)
        except httpx.HTTPError as exc:
            Path(name).unlink(missing_ok=True)
            raise MlflowError(f"downloading {path}: {exc}") from exc
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)
