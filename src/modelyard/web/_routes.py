"""Every page router. Sections for domains still being written join once their domain imports."""

from __future__ import annotations

import importlib
import logging

from fastapi import APIRouter

from modelyard.web import _events
from modelyard.web.pages import admin, auth, jobs, model_forms, models, notifications, offline

router = APIRouter(include_in_schema=False)
router.include_router(_events.router)
router.include_router(auth.router)
router.include_router(offline.router)
router.include_router(model_forms.router)  # first: /models/new is not a model named "new"
router.include_router(models.router)
router.include_router(jobs.router)

for _section in (
    "evaluations",
    "deployments",
    "targets",
    "datasets",
    "reports",
    "alerts",
    "drift",
):
    try:
        _module = importlib.import_module(f"modelyard.web.pages.{_section}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a domain is missing
        if not (exc.name or "").startswith("modelyard."):
            raise
        logging.getLogger(__name__).warning("web: no %s pages (%s)", _section, exc)
        continue
    router.include_router(_module.router)

router.include_router(admin.router)
router.include_router(notifications.router)
