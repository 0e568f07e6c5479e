"""The ``weekly_report`` job kind: summarise a period and save it as JSON, HTML, PNG and PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from modelyard.analytics import service as analytics
from modelyard.auth.schemas import Role
from modelyard.jobs import JobContext, job_kind
from modelyard.reports import render, service


class WeeklyParams(BaseModel):
    end: dt.date | None = None
    days: int = Field(default=7, ge=1, le=92)


def period_for(end: dt.date | None, days: int) -> tuple[dt.datetime, dt.datetime]:
    last = end or dt.datetime.now(dt.UTC).date()
    stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return stop - dt.timedelta(days=days), stop


@job_kind(
    "weekly_report",
    min_role=Role.editor,
    retryable=True,
    max_retries=2,
    timeout_seconds=600,
    params_model=WeeklyParams,
)
def weekly_report(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Build the performance report of a period (JSON, HTML, PNG, PDF)."""
    parsed = WeeklyParams.model_validate(params)
    start, stop = period_for(parsed.end, parsed.days)
    ctx.progress(
        0.1, phase="summarise", message="reading registry, evaluations, jobs and deployments"
    )
    with ctx.session() as session:
        summary = analytics.period_summary(session, start, stop).model_dump()
    ctx.progress(0.5, phase="render", message="rendering HTML and PNG")
    title = f"Performance report {summary['period']['days'][0]} to {summary['period']['days'][-1]}"
    png = render.to_png(summary)
    stored_summary = {k: v for k, v in summary.items() if k != "jobs"} | {
        "jobs": {k: v for k, v in summary["jobs"].items() if k != "wait_samples"}
    }
    files = {
        "json": render.to_json(stored_summary),
        "html": render.to_html(title, stored_summary, png_name="png"),
        "png": png,
    }
    ctx.progress(0.7, phase="render", message="laying out the PDF")
    pdf = render.to_pdf(title, stored_summary, png)
    if pdf is not None:
        files["pdf"] = pdf
    ctx.progress(0.9, phase="save", message="saving the report")
    with ctx.session() as session:
        report = service.save(
            session,
            ctx.store,
            kind="weekly",
            title=title,
            period=(start, stop),
            summary={
                "evaluations": summary["evaluations"]["total"],
                "jobs": summary["jobs"]["total"],
                "regressions": len(summary["evaluations"]["regressions"]),
                "alerts": summary["deployments"]["alerts"],
            },
            files=files,
            created_by=ctx.actor,
            job_id=ctx.job_id,
        )
        return {"report_id": report.id}
