"""Every domain's router under ``/api``; nothing else."""

from __future__ import annotations

from fastapi import APIRouter

from modelyard.alerts.endpoints import router as alerts_router
from modelyard.analytics.endpoints import router as analytics_router
from modelyard.auth.endpoints import router as auth_router
from modelyard.datasets.endpoints import router as datasets_router
from modelyard.deployments.endpoints import router as deployments_router
from modelyard.deployments.endpoints import targets_router as target_deletion_router
from modelyard.drift.endpoints import router as drift_router
from modelyard.evaluations.endpoints import router as evaluations_router
from modelyard.imports.endpoints import router as imports_router
from modelyard.jobs.endpoints import router as jobs_router
from modelyard.registry.endpoints import router as registry_router
from modelyard.reports.endpoints import router as reports_router
from modelyard.serving.endpoints import router as serving_router
from modelyard.targets.endpoints import router as targets_router
from modelyard.telemetry.endpoints import router as telemetry_router
from modelyard.webhooks.endpoints import router as webhooks_router

router = APIRouter(prefix="/api")
router.include_router(registry_router)
router.include_router(auth_router)
router.include_router(jobs_router)
router.include_router(datasets_router)
router.include_router(evaluations_router)
router.include_router(telemetry_router)
router.include_router(targets_router)
router.include_router(target_deletion_router)
router.include_router(deployments_router)
router.include_router(analytics_router)
router.include_router(reports_router)
router.include_router(alerts_router)
router.include_router(drift_router)
router.include_router(webhooks_router)
router.include_router(imports_router)
router.include_router(serving_router)
