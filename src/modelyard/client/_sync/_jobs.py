# Generated from ../_async/_jobs.py by scripts/unasync.py: edit that file, then run it.
"""Background work: jobs (followed live), evaluations, drift checks and reports."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from modelyard.client._errors import ModelyardError
from modelyard.client._sse import ServerEvent
from modelyard.client._sync._http import Http
from modelyard.drift.schemas import (
    CategoricalMethod,
    DriftCreate,
    DriftCreated,
    DriftOut,
    NumericMethod,
)
from modelyard.evaluations.schemas import (
    Comparison,
    EvaluationCreate,
    EvaluationCreated,
    EvaluationOut,
    EvaluationStatus,
    TaskName,
)
from modelyard.jobs.schemas import TERMINAL, JobKindOut, JobOut, JobStatus, JobSubmit
from modelyard.reports.schemas import ReportFormat, ReportJob, ReportOut, WeeklyReportRequest

Priority = str | int
JobProgress = Callable[[JobOut], None]
RECONNECTS = 5


class Jobs:
    """``client.jobs``: submit, list, follow live, cancel and retry background jobs."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def submit(
        self, kind: str, params: Mapping[str, Any] | None = None, *, priority: Priority = "normal"
    ) -> JobOut:
        body = JobSubmit(kind=kind, params=dict(params or {}), priority=priority)
        return self._http.call(JobOut, "POST", "/api/jobs", json=body.model_dump())

    def get(self, job_id: int) -> JobOut:
        return self._http.call(JobOut, "GET", f"/api/jobs/{int(job_id)}")

    def list(
        self,
        *,
        status: Sequence[JobStatus | str] | None = None,
        kind: str | None = None,
        user: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[JobOut]:
        """Jobs the caller may see, newest first (admins: everyone's)."""
        params = {"status": [str(s) for s in status] if status else None, "kind": kind}
        params["user"] = user
        return self._http.paginate(JobOut, "/api/jobs", params, page_size=page_size, limit=limit)

    def kinds(self) -> builtins.list[JobKindOut]:
        return self._http.call_list(JobKindOut, "GET", "/api/jobs/kinds")

    def cancel(self, job_id: int) -> JobOut:
        """A queued job never starts; a running one stops at its next checkpoint."""
        return self._http.call(JobOut, "POST", f"/api/jobs/{int(job_id)}/cancel")

    def retry(self, job_id: int) -> JobOut:
        return self._http.call(JobOut, "POST", f"/api/jobs/{int(job_id)}/retry")

    def follow(self, job_id: int) -> Iterator[JobOut]:
        """The job's state at once, then at every change, until it ends (server-sent events;
        a broken connection resumes where it stopped)."""
        for event in self._http.events(
            f"/api/jobs/{int(job_id)}/events", reconnect=_Reconnects(RECONNECTS)
        ):
            if event.event == "job":
                job = JobOut.model_validate_json(event.data)
                yield job
                if job.status in TERMINAL:
                    return

    def wait(self, job_id: int, *, progress: JobProgress | None = None) -> JobOut:
        """Follow the job until it ends and return its last state; ``progress(job)`` at each
        change."""
        last: JobOut | None = None
        for job in self.follow(job_id):
            last = job
            if progress:
                progress(job)
        if last is None or last.status not in TERMINAL:
            last = self.get(job_id)
        return last

    def events(self, *, last_event_id: str | None = None) -> Iterator[ServerEvent]:
        """Every visible job's changes as they happen (never ends by itself)."""
        return self._http.events(
            "/api/jobs/events", last_event_id=last_event_id, reconnect=_Reconnects(RECONNECTS)
        )


class _Reconnects:
    """Allow ``budget`` reconnections in a row without an event in between."""

    def __init__(self, budget: int) -> None:
        self._budget = self._left = budget
        self._last: ServerEvent | None = None

    def __call__(self, last: ServerEvent | None) -> bool:
        if last is not self._last:
            self._left, self._last = self._budget, last
        self._left -= 1
        return self._left >= 0


class Evaluations:
    """``client.evaluations``: evaluate a version on a dataset as a job, wait, compare."""

    def __init__(self, http: Http, jobs: Jobs) -> None:
        self._http = http
        self._jobs = jobs

    def create(
        self,
        model: str,
        dataset: int | str,
        target: str,
        *,
        features: Mapping[str, str] | None = None,
        slice_by: str | None = None,
        task: TaskName | None = None,
        priority: Priority = "normal",
        chunk_rows: int | None = None,
    ) -> EvaluationCreated:
        """Queue an evaluation of ``model`` (``name``, ``name/3``, ``name@alias``) on a dataset
        (id or name) against its ``target`` column; ``features`` maps model feature to column."""
        body = EvaluationCreate(
            model=model,
            dataset=dataset,
            target=target,
            features=dict(features or {}),
            slice_by=slice_by,
            task=task,
            priority=priority,
        )
        if chunk_rows is not None:
            body.chunk_rows = chunk_rows
        return self._http.call(
            EvaluationCreated,
            "POST",
            "/api/evaluations",
            json=body.model_dump(exclude_none=True),
        )

    def get(self, evaluation_id: int) -> EvaluationOut:
        return self._http.call(EvaluationOut, "GET", f"/api/evaluations/{int(evaluation_id)}")

    def list(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        dataset: int | str | None = None,
        status: EvaluationStatus | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[EvaluationOut]:
        params = {"model": model, "version": version, "dataset": dataset, "status": status}
        return self._http.paginate(
            EvaluationOut, "/api/evaluations", params, page_size=page_size, limit=limit
        )

    def cancel(self, evaluation_id: int) -> EvaluationOut:
        return self._http.call(
            EvaluationOut, "POST", f"/api/evaluations/{int(evaluation_id)}/cancel"
        )

    def wait(self, evaluation_id: int, *, progress: JobProgress | None = None) -> EvaluationOut:
        """Follow the evaluation's job until it ends; returns the evaluation with its metrics
        (or its ``error``). ``progress(job)`` with the job's state at once (its last one if it
        has ended already), then at each change."""
        evaluation = self.get(evaluation_id)
        if evaluation.job_id is not None and (progress or evaluation.status not in _DONE):
            self._jobs.wait(evaluation.job_id, progress=progress)
            evaluation = self.get(evaluation_id)
        return evaluation

    def compare(self, evaluation_ids: Sequence[int]) -> Comparison:
        """Metrics side by side, with the better evaluation on each."""
        if not evaluation_ids:
            raise ModelyardError("Name at least one evaluation to compare.")
        ids = ",".join(str(int(i)) for i in evaluation_ids)
        return self._http.call(Comparison, "GET", "/api/evaluations/compare", params={"ids": ids})


_DONE = frozenset({"succeeded", "failed", "cancelled"})


class Drift:
    """``client.drift``: compare a current dataset with a reference, column by column."""

    def __init__(self, http: Http, jobs: Jobs) -> None:
        self._http = http
        self._jobs = jobs

    def create(
        self,
        reference: int | str,
        current: int | str,
        *,
        columns: Sequence[str] | None = None,
        numeric_method: NumericMethod = "auto",
        categorical_method: CategoricalMethod = "auto",
        column_threshold: float | None = None,
        drift_share: float = 0.5,
        priority: Priority = "normal",
    ) -> DriftCreated:
        body = DriftCreate(
            reference=reference,
            current=current,
            columns=builtins.list(columns) if columns else None,
            numeric_method=numeric_method,
            categorical_method=categorical_method,
            column_threshold=column_threshold,
            drift_share=drift_share,
            priority=priority,
        )
        return self._http.call(
            DriftCreated, "POST", "/api/drift", json=body.model_dump(exclude_none=True)
        )

    def get(self, drift_id: int) -> DriftOut:
        return self._http.call(DriftOut, "GET", f"/api/drift/{int(drift_id)}")

    def list(
        self,
        *,
        dataset: int | str | None = None,
        status: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[DriftOut]:
        return self._http.paginate(
            DriftOut,
            "/api/drift",
            {"dataset": dataset, "status": status},
            page_size=page_size,
            limit=limit,
        )

    def cancel(self, drift_id: int) -> DriftOut:
        return self._http.call(DriftOut, "POST", f"/api/drift/{int(drift_id)}/cancel")

    def wait(self, drift_id: int, *, progress: JobProgress | None = None) -> DriftOut:
        """Like :meth:`Evaluations.wait`, for a drift check."""
        check = self.get(drift_id)
        if check.job_id is not None and (progress or check.status not in _DONE):
            self._jobs.wait(check.job_id, progress=progress)
            check = self.get(drift_id)
        return check


class Reports:
    """``client.reports``: build the weekly performance report, list and download reports."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def create_weekly(
        self, *, end: str | None = None, days: int = 7, priority: Priority = "normal"
    ) -> ReportJob:
        """Queue the report of the ``days`` up to ``end`` (``YYYY-MM-DD``, default today)."""
        body = WeeklyReportRequest.model_validate({"end": end, "days": days, "priority": priority})
        return self._http.call(
            ReportJob, "POST", "/api/reports/weekly", json=body.model_dump(mode="json")
        )

    def list(
        self,
        *,
        kind: str | None = None,
        subject: str | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[ReportOut]:
        return self._http.paginate(
            ReportOut,
            "/api/reports",
            {"kind": kind, "subject": subject},
            page_size=page_size,
            limit=limit,
        )

    def get(self, report_id: int) -> ReportOut:
        return self._http.call(ReportOut, "GET", f"/api/reports/{int(report_id)}")

    def download(
        self, report_id: int, format: ReportFormat, destination: Path | str | IO[bytes]
    ) -> int:
        """Write one of the report's files (json, html, png, pdf); returns its size."""
        target = Path(destination) if isinstance(destination, str | Path) else destination
        return self._http.download(f"/api/reports/{int(report_id)}/{format}", target)
