"""Import endpoints: start an import from another registry as a background job."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelyard.auth.deps import Editor
from modelyard.imports.schemas import MlflowImportCreate
from modelyard.jobs import service as jobs_service
from modelyard.jobs.deps import Jobs
from modelyard.jobs.schemas import JobOut
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import Unprocessable
from modelyard.kit.outbound import refusal
from modelyard.kit.responses import json_response

router = APIRouter(prefix="/imports", tags=["imports"])


@router.post("/mlflow", response_model=JobOut, status_code=202)
def import_mlflow(
    data: MlflowImportCreate,
    principal: Editor,
    session: DbSession,
    settings: AppSettings,
    jobs: Jobs,
) -> Response:
    """Import an MLflow model registry as a job; follow it at /api/jobs/{id}."""
    why = refusal(data.tracking_uri, settings.imports.mlflow_hosts, "imports.mlflow_hosts")
    if why is not None:
        raise Unprocessable(
            f"The request is not valid: tracking_uri: {why}.",
            extra={"errors": [{"field": "tracking_uri", "message": why}]},
        )
    job = jobs_service.submit(
        session,
        jobs,
        kind="import.mlflow",
        params=data.model_dump(exclude={"priority"}),
        priority=data.priority,
        submitted_by=principal,
    )
    return json_response(job.model_dump(), 202, {"Location": f"/api/jobs/{job.id}"})
