"""``modelyard jobs list|show|cancel|retry`` and ``show --follow``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.cli import jobs as jobs_cli
from modelyard.config import get_settings
from modelyard.jobs.schemas import JobStatus
from tests.jobs.conftest import JobEnv


@pytest.fixture
def cli(sqlite_env: JobEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for key, value in sqlite_env.process_env().items():
        if key.startswith("MODELYARD_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(jobs_cli.console, "width", 200)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_list_show_cancel_and_retry(cli: CliRunner, sqlite_env: JobEnv) -> None:
    sqlite_env.runtime(workers=0)
    job = sqlite_env.submit("test.echo", {"n": 1}, submitted_by=sqlite_env.alice)
    result = cli.invoke(
        app, ["jobs", "list", "--status", "queued", "--user", sqlite_env.alice.name]
    )
    assert result.exit_code == 0, result.output
    assert "test.echo" in result.output and sqlite_env.alice.name in result.output

    result = cli.invoke(app, ["jobs", "cancel", str(job.id)])
    assert result.exit_code == 0 and f"job {job.id} cancelled" in result.output
    assert sqlite_env.job(job.id).status == JobStatus.cancelled
    result = cli.invoke(app, ["jobs", "cancel", str(job.id)])
    assert result.exit_code == 1 and "already ended" in result.output

    result = cli.invoke(app, ["jobs", "retry", str(job.id)])
    assert result.exit_code == 0, result.output
    assert sqlite_env.job(job.id).status == JobStatus.queued

    result = cli.invoke(app, ["jobs", "show", str(job.id)])
    assert result.exit_code == 0 and "queued" in result.output and '{"n":1}' in result.output
    assert cli.invoke(app, ["jobs", "show", "999999"]).exit_code == 1


def test_show_follow_draws_progress_until_the_end(cli: CliRunner, sqlite_env: JobEnv) -> None:
    sqlite_env.runtime(workers=1)
    job_id = sqlite_env.submit("test.loop", {"steps": 10, "delay": 0.05}).id
    result = cli.invoke(app, ["jobs", "show", str(job_id), "--follow"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "100%" in result.output

    failing = sqlite_env.submit("test.bad_result").id
    result = cli.invoke(app, ["jobs", "show", str(failing), "--follow", "--json"])
    assert result.exit_code == 1 and '"status": "failed"' in result.output
