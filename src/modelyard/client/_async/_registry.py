"""Models, versions, aliases, tags, artifacts and the audit log."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Any

from modelyard.client._async._http import AsyncHttp, Progress, ReadProgress
from modelyard.client._errors import ModelyardError
from modelyard.client._refs import segment, split_reference
from modelyard.evaluations.schemas import MetricTrend
from modelyard.registry.schemas import (
    AliasSet,
    AuditOut,
    ModelCreate,
    ModelOut,
    ModelUpdate,
    SortKey,
    TagSet,
    VersionCreate,
    VersionOut,
    VersionUpdate,
)
from modelyard.serving.schemas import PredictionLogFlushed, PredictionLogOut, PredictionLogUpdate


def _version_path(reference: str, version: int | str | None) -> str:
    name, selector = split_reference(reference, version)
    return f"/api/models/{segment(name)}/versions/{segment(selector)}"


class AsyncModels:
    """``client.models``: register, find, describe, tag and delete models."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def create(
        self, name: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> ModelOut:
        body = ModelCreate(name=name, description=description, tags=dict(tags or {}))
        return await self._http.call(ModelOut, "POST", "/api/models", json=body.model_dump())

    async def get(self, name: str) -> ModelOut:
        return await self._http.call(ModelOut, "GET", f"/api/models/{segment(name)}")

    def list(
        self,
        *,
        q: str | None = None,
        tags: builtins.list[str] | None = None,
        flavor: str | None = None,
        sort: SortKey = "name",
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncIterator[ModelOut]:
        """Every model matching (``tags``: ``key`` or ``key=value``, all required), page by page."""
        params = {"q": q, "tag": tags or None, "flavor": flavor, "sort": sort}
        return self._http.paginate(
            ModelOut, "/api/models", params, page_size=page_size, limit=limit
        )

    async def update(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> ModelOut:
        """Change the description, and set tags (a ``None`` value removes that tag)."""
        body = ModelUpdate(description=description, tags=dict(tags) if tags is not None else None)
        return await self._http.call(
            ModelOut,
            "PATCH",
            f"/api/models/{segment(name)}",
            json=body.model_dump(exclude_none=True),
        )

    async def delete(self, name: str) -> None:
        await self._http.request("DELETE", f"/api/models/{segment(name)}")

    async def set_tag(self, name: str, key: str, value: str = "") -> ModelOut:
        return await self._http.call(
            ModelOut,
            "PUT",
            f"/api/models/{segment(name)}/tags/{segment(key)}",
            json=TagSet(value=value).model_dump(),
        )

    async def delete_tag(self, name: str, key: str) -> ModelOut:
        return await self._http.call(
            ModelOut, "DELETE", f"/api/models/{segment(name)}/tags/{segment(key)}"
        )

    async def metric_trend(
        self, name: str, metric: str, *, dataset: int | str | None = None
    ) -> MetricTrend:
        """A metric across the model's versions (the latest evaluation per version and dataset)."""
        return await self._http.call(
            MetricTrend,
            "GET",
            f"/api/models/{segment(name)}/metrics",
            params={"metric": metric, "dataset": dataset},
        )

    async def prediction_log(self, name: str) -> PredictionLogOut:
        """Whether the model's predict requests are logged to datasets, and what waits."""
        return await self._http.call(
            PredictionLogOut, "GET", f"/api/models/{segment(name)}/prediction-log"
        )

    async def set_prediction_log(self, name: str, enabled: bool) -> PredictionLogOut:
        """Switch the logging of the model's predict requests on or off (editors)."""
        return await self._http.call(
            PredictionLogOut,
            "PUT",
            f"/api/models/{segment(name)}/prediction-log",
            json=PredictionLogUpdate(enabled=enabled).model_dump(),
        )

    async def flush_prediction_log(self, name: str) -> PredictionLogFlushed:
        """Turn the logged rows the answering server process holds into a dataset now."""
        return await self._http.call(
            PredictionLogFlushed, "POST", f"/api/models/{segment(name)}/prediction-log/flush"
        )


class AsyncVersions:
    """``client.versions``: add versions (with an artifact streamed from disk), read, tag."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def create(
        self,
        model: str,
        *,
        flavor: str = "generic",
        parameters: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        artifact: Path | str | None = None,
        source: str = "",
        description: str = "",
        tags: Mapping[str, str] | None = None,
        parent: str | None = None,
        progress: Progress | None = None,
    ) -> VersionOut:
        """Add a version; ``artifact`` (a file: skops, ONNX, anything for ``generic``) is
        streamed as it is read, ``progress(bytes_sent, total)`` following it. ``parent``
        records lineage (``model/3``, ``model@alias``)."""
        body = VersionCreate(
            flavor=flavor,
            parameters=dict(parameters or {}),
            metrics=dict(metrics or {}),
            source=source,
            description=description,
            tags=dict(tags or {}),
            parent=parent,
        ).model_dump_json()
        path = f"/api/models/{segment(model)}/versions"
        if artifact is None:
            return await self._http.call(
                VersionOut,
                "POST",
                path,
                content=body.encode(),
                headers={"Content-Type": "application/json"},
            )
        file = Path(artifact)
        with file.open("rb") as handle:
            stream: Any = handle
            if progress:
                stream = ReadProgress(handle, file.stat().st_size, progress)
            files = {
                "file": (file.name, stream, "application/octet-stream"),
                "metadata": (None, body, "application/json"),
            }
            return await self._http.call(VersionOut, "POST", path, files=files)

    async def get(self, reference: str, version: int | str | None = None) -> VersionOut:
        """``get("sales/3")``, ``get("sales@production")``, ``get("sales", 3)``; a bare name
        is its latest version."""
        return await self._http.call(VersionOut, "GET", _version_path(reference, version))

    def list(
        self, model: str, *, page_size: int = 100, limit: int | None = None
    ) -> AsyncIterator[VersionOut]:
        """The model's versions, newest first."""
        return self._http.paginate(
            VersionOut,
            f"/api/models/{segment(model)}/versions",
            page_size=page_size,
            limit=limit,
        )

    async def update(
        self,
        reference: str,
        version: int | str | None = None,
        *,
        description: str | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> VersionOut:
        body = VersionUpdate(
            description=description,
            metrics=dict(metrics) if metrics is not None else None,
            tags=dict(tags) if tags is not None else None,
        )
        return await self._http.call(
            VersionOut,
            "PATCH",
            _version_path(reference, version),
            json=body.model_dump(exclude_none=True),
        )

    async def delete(self, reference: str, version: int | str | None = None) -> None:
        if "/" not in reference and "@" not in reference and version is None:
            raise ModelyardError(
                f"Say which version of {reference!r} to delete: `{reference}/N` or a version."
            )
        await self._http.request("DELETE", _version_path(reference, version))

    async def set_tag(self, reference: str, key: str, value: str = "") -> VersionOut:
        return await self._http.call(
            VersionOut,
            "PUT",
            f"{_version_path(reference, None)}/tags/{segment(key)}",
            json=TagSet(value=value).model_dump(),
        )

    async def delete_tag(self, reference: str, key: str) -> VersionOut:
        return await self._http.call(
            VersionOut, "DELETE", f"{_version_path(reference, None)}/tags/{segment(key)}"
        )


class AsyncAliases:
    """``client.aliases``: point ``name@alias`` at a version, resolve it, remove it."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def set(self, model: str, alias: str, version: int) -> VersionOut:
        return await self._http.call(
            VersionOut,
            "PUT",
            f"/api/models/{segment(model)}/aliases/{segment(alias)}",
            json=AliasSet(version=version).model_dump(),
        )

    async def get(self, model: str, alias: str) -> VersionOut:
        return await self._http.call(
            VersionOut, "GET", f"/api/models/{segment(model)}/aliases/{segment(alias)}"
        )

    async def delete(self, model: str, alias: str) -> None:
        await self._http.request("DELETE", f"/api/models/{segment(model)}/aliases/{segment(alias)}")


class AsyncArtifacts:
    """``client.artifacts``: a version's file, streamed to disk and checked against its SHA-256."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def download(
        self,
        reference: str,
        destination: Path | str | IO[bytes],
        version: int | str | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        """Write the artifact to ``destination`` (a path, written whole or not at all, or a
        binary file object); returns its size. A file whose SHA-256 differs from the one the
        registry recorded raises :class:`~modelyard.client.ModelyardError`."""
        described = await self._http.call(VersionOut, "GET", _version_path(reference, version))
        if described.artifact is None:
            raise ModelyardError(f"{described.model}/{described.version} has no artifact.")
        path = f"{_version_path(described.model, described.version)}/artifact"
        target = Path(destination) if isinstance(destination, str | Path) else destination
        return await self._http.download(
            path, target, sha256=described.artifact.sha256, progress=progress
        )


class AsyncAudit:
    """``client.audit``: who changed what, newest first (editors and admins)."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    def list(
        self,
        *,
        actor: str | None = None,
        object_type: str | None = None,
        object_key: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncIterator[AuditOut]:
        params = {"actor": actor, "object_type": object_type, "object_key": object_key}
        return self._http.paginate(AuditOut, "/api/audit", params, page_size=page_size, limit=limit)
