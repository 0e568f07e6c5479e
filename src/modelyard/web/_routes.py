"""Every page router; the jobs, evaluations and deployments pages join when their domain does."""

from __future__ import annotations

from fastapi import APIRouter

from modelyard.web.pages import auth, jobs, models

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(models.router)
router.include_router(jobs.router)
