"""Input and output shapes of the report endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

ReportFormat = Literal["json", "html", "png", "pdf"]


class ReportOut(BaseModel):
    id: int = Field(description="The report's id.")
    kind: str = Field(description="run (one deployment) or weekly.")
    title: str = Field(description="Its title.")
    subject: str = Field(description="What it covers: a deployment's name, or the installation.")
    period_start: dt.datetime | None = Field(description="Start of the period covered (UTC).")
    period_end: dt.datetime | None = Field(description="End of the period covered (UTC).")
    summary: dict[str, Any] = Field(description="The headline figures.")
    files: dict[str, int] = Field(
        description="Each file written (html, pdf, png ...) -> its size in bytes."
    )
    job_id: int | None = Field(description="The job that wrote it.")
    created_by: str = Field(description="The user who asked for it.")
    created_at: dt.datetime = Field(description="When it was written (UTC).")


class ReportPage(BaseModel):
    items: list[ReportOut] = Field(description="This page's reports, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class WeeklyReportRequest(BaseModel):
    end: dt.date | None = Field(
        default=None, description="Last day covered (UTC), inclusive; default today."
    )
    days: int = Field(default=7, ge=1, le=92, description="Length of the period in days.")
    priority: str | int = Field(
        default="normal", description="low, normal, high, urgent, or a number (higher first)."
    )


class ReportJob(BaseModel):
    job_id: int = Field(description="The job that writes the report: follow it at /api/jobs/{id}.")
    status: str = Field(description="The job's status.")
