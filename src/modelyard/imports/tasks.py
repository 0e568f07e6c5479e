"""The ``import.mlflow`` job: read an MLflow registry and bring it into this one."""

from __future__ import annotations

from typing import Any

from modelyard.auth.schemas import Role
from modelyard.imports.schemas import MlflowImportParams
from modelyard.jobs import JobContext, job_kind
from modelyard.kit.errors import BadRequest
from modelyard.kit.outbound import refusal
from modelyard.registry.artifacts import ArtifactStore


@job_kind(
    "import.mlflow",
    min_role=Role.editor,
    retryable=True,
    max_retries=2,
    timeout_seconds=6 * 3600,
    params_model=MlflowImportParams,
)
def import_mlflow(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Import an MLflow model registry (models, versions, aliases, metrics, safe model files)."""
    # httpx, numpy and the flavors' libraries load with the first import, not with the server
    from modelyard.imports._mlflow import MlflowReader
    from modelyard.imports.service import MlflowImport

    settings = ctx.settings
    uri = str(params["tracking_uri"])
    why = refusal(uri, settings.imports.mlflow_hosts, "imports.mlflow_hosts")
    if why is not None:
        raise BadRequest(f"The MLflow server may not be read: {why}.")
    submitter = ctx.submitted_by
    reader = MlflowReader(uri)
    try:
        importer = MlflowImport(
            reader,
            ctx.session,
            ArtifactStore.of(ctx.store, settings),
            actor=ctx.actor,
            as_admin=submitter is not None and submitter.role is Role.admin,
            max_artifact_bytes=settings.storage.max_artifact_bytes,
            patterns=list(params.get("models") or []),
        )

        def progress(done: int, total: int, message: str) -> None:
            ctx.progress(done / total if total else None, phase="import", message=message)

        result = importer.run(progress)
    finally:
        reader.close()
    return result.model_dump(mode="json")
