"""Saving and reading reports. Files are blobs ``reports/<id>/report.<format>`` with names
modelyard chooses, never the caller, so no key comes from user input."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import JsonValue
from sqlalchemy.orm import Session

from modelyard.kit.errors import BadRequest, NotFound
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.models import Report
from modelyard.reports.schemas import ReportOut, ReportPage
from modelyard.storage import BlobStore

FORMATS = ("json", "html", "png", "pdf")
MEDIA_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "pdf": "application/pdf",
}


def file_key(report_id: int, fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"Reports have no {fmt} file; formats: {', '.join(FORMATS)}.")
    return f"reports/{int(report_id)}/report.{fmt}"


def save(
    session: Session,
    blobs: BlobStore,
    *,
    kind: str,
    title: str,
    subject: str = "",
    period: tuple[dt.datetime, dt.datetime] | None = None,
    summary: dict[str, JsonValue],
    files: dict[str, bytes],
    created_by: str,
    job_id: int | None = None,
) -> Report:
    unknown = set(files) - set(FORMATS)
    if unknown:
        raise BadRequest(f"Unknown report formats: {', '.join(sorted(unknown))}.")
    report = Report(
        kind=kind,
        title=title,
        subject=subject,
        summary=summary,
        created_by=created_by,
        job_id=job_id,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        files={fmt: len(body) for fmt, body in files.items()},
    )
    session.add(report)
    session.flush()
    # Written before the commit: a report row never names a file that is not there (a failed
    # commit leaves files no row names, which a later report of the same id overwrites).
    for fmt, body in files.items():
        blobs.put_bytes(file_key(report.id, fmt), body)
    return report


def get(session: Session, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"No report with id {report_id}; list reports with GET /api/reports.")
    return report


def stored_file(report: Report, fmt: str) -> str:
    """The key of one of the report's files (404 when the report has no such format)."""
    if fmt not in report.files:
        available = ", ".join(sorted(report.files)) or "none"
        raise NotFound(f"Report {report.id} has no {fmt} file; it has: {available}.")
    return file_key(report.id, fmt)


def list_reports(
    session: Session, *, kind: str | None, subject: str | None, limit: int, cursor: str | None
) -> ReportPage:
    query = sa.select(Report).order_by(Report.id.desc())
    if kind:
        query = query.where(Report.kind == kind)
    if subject:
        query = query.where(Report.subject == subject)
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(Report.id < below)
    rows, next_cursor = id_page(list(session.scalars(query.limit(limit + 1))), limit)
    return ReportPage(items=[out(r) for r in rows], next_cursor=next_cursor)


def out(report: Report) -> ReportOut:
    return ReportOut.model_validate(report, from_attributes=True)
