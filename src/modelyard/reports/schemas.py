"""Input and output shapes of the report endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

ReportFormat = Literal["json", "html", "png", "pdf"]


class ReportOut(BaseModel):
    id: int
    kind: str
    title: str
    subject: str
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    summary: dict[str, Any]
    files: dict[str, int]
    job_id: int | None
    created_by: str
    created_at: dt.datetime


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None


class WeeklyReportRequest(BaseModel):
    end: dt.date | None = Field(
        default=None, description="Last day covered (UTC), inclusive; default today."
    )
    days: int = Field(default=7, ge=1, le=92, description="Length of the period in days.")
    priority: str | int = "normal"


class ReportJob(BaseModel):
    job_id: int
    status: str
