"""The Python client against a real ``modelyard serve``, group by group.

Every call goes over HTTP to the session's server (``live_server``), so what is checked is
what a user of the client gets: the server's schemas, iterators over pages, one exception
type for problems.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from modelyard.client import ApiError, Client, ConnectionFailed, RetryPolicy
from modelyard.datasets.schemas import DatasetOut
from modelyard.evaluations.schemas import EvaluationOut
from modelyard.jobs.schemas import JobOut, JobStatus
from modelyard.registry.schemas import ModelOut, VersionOut
from tests.client.conftest import write_csv
from tests.served import LiveServer


def test_register_alias_evaluate_compare(client: Client, name: str, tmp_path: Path) -> None:
    model = client.models.create(name, description="sales", tags={"team": "client"})
    assert isinstance(model, ModelOut) and model.tags == {"team": "client"}
    good = client.versions.create(
        name, flavor="formula", parameters={"kind": "linear", "coef": {"x": 2.0}, "intercept": 1.0}
    )
    worse = client.versions.create(
        name, flavor="formula", parameters={"kind": "linear", "coef": {"x": 1.5}, "intercept": 1.0}
    )
    assert isinstance(good, VersionOut) and (good.version, worse.version) == (1, 2)
    assert client.aliases.set(name, "production", 1).aliases == ["production"]
    assert client.versions.get(f"{name}@production").version == 1
    assert client.versions.get(name).version == 2  # a bare name is the latest

    sent: list[tuple[int, int]] = []
    dataset = client.datasets.upload(
        write_csv(tmp_path / f"{name}.csv", 2_000),
        name=f"{name}-data",
        chunk_bytes=8_192,
        progress=lambda done, total: sent.append((done, total)),
    )
    assert isinstance(dataset, DatasetOut) and dataset.row_count == 2_000
    assert len(sent) > 3 and sent[-1][0] == sent[-1][1] == dataset.size_bytes
    assert client.datasets.get(dataset.name).id == dataset.id

    jobs_seen: list[JobOut] = []
    results = []
    for reference in (f"{name}@production", f"{name}/2"):
        created = client.evaluations.create(reference, dataset.name, "y", slice_by="region")
        assert created.job.kind == "evaluation"
        done = client.evaluations.wait(created.id, progress=jobs_seen.append)
        assert isinstance(done, EvaluationOut) and done.status == "succeeded", done.error
        results.append(done)
    assert jobs_seen and jobs_seen[-1].status == JobStatus.succeeded
    assert results[0].metrics["mae"] < results[1].metrics["mae"]

    comparison = client.evaluations.compare([r.id for r in results])
    mae = next(m for m in comparison.metrics if m.metric == "mae")
    assert mae.best == results[0].id
    board = client.analytics.leaderboard(dataset.id, "mae")
    assert [entry.version for entry in board.entries][:2] == [1, 2]
    trend = client.models.metric_trend(name, "mae", dataset=dataset.id)
    assert [point.version for point in trend.points] == [1, 2]
    listed = list(client.evaluations.list(model=name))
    assert {e.id for e in listed} == {r.id for r in results}


def test_lists_are_iterators_over_every_page(client: Client, name: str) -> None:
    for i in range(5):
        client.models.create(f"{name}-{i}", tags={"batch": name})
    found = list(client.models.list(tags=[f"batch={name}"], page_size=2))
    assert [m.name for m in found] == [f"{name}-{i}" for i in range(5)]
    assert len(list(client.models.list(tags=[f"batch={name}"], page_size=2, limit=3))) == 3
    client.models.update(f"{name}-0", description="first", tags={"batch": None, "kept": "yes"})
    assert client.models.get(f"{name}-0").tags == {"kept": "yes"}
    client.models.set_tag(f"{name}-1", "stage", "beta")
    assert client.models.delete_tag(f"{name}-1", "batch").tags == {"stage": "beta"}
    client.models.delete(f"{name}-4")
    with pytest.raises(ApiError) as missing:
        client.models.get(f"{name}-4")
    assert missing.value.status == 404


def test_artifacts_stream_up_and_down_checked_by_hash(
    client: Client, name: str, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 4_000  # 1 MB
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(payload)
    client.models.create(name)
    version = client.versions.create(name, artifact=artifact, metrics={"auc": 0.9})
    assert version.artifact is not None and version.artifact.size == len(payload)
    out = tmp_path / "copy.bin"
    assert client.artifacts.download(f"{name}/1", out) == len(payload)
    assert out.read_bytes() == payload
    buffer = io.BytesIO()
    client.artifacts.download(name, buffer)
    assert buffer.getvalue() == payload
    tagged = client.versions.set_tag(f"{name}/1", "checked", "yes")
    assert tagged.tags == {"checked": "yes"}
    assert client.versions.update(f"{name}/1", description="d").description == "d"
    assert [v.version for v in client.versions.list(name)] == [1]
    audit = list(client.audit.list(object_key=name, limit=10))
    assert audit and all(entry.object_key.startswith(name) for entry in audit)


def test_problems_are_one_exception_with_status_title_and_detail(
    client: Client, viewer_client: Client, live_server: LiveServer, name: str
) -> None:
    with pytest.raises(ApiError) as missing:
        client.models.get(f"{name}-nope")
    assert (missing.value.status, missing.value.title) == (404, "Not found")
    assert name in missing.value.detail and str(missing.value) == missing.value.detail

    with pytest.raises(ApiError) as refused:
        viewer_client.models.create(name)
    assert refused.value.status == 403

    with (
        Client(live_server.base, "not-a-token", retry=RetryPolicy(retries=0)) as stranger,
        pytest.raises(ApiError) as unauthenticated,
    ):
        stranger.models.get(name)
    assert unauthenticated.value.status == 401

    client.models.create(name)
    with pytest.raises(ApiError) as conflict:
        client.models.create(name)
    assert conflict.value.status == 409

    with pytest.raises(ApiError) as invalid:
        client.versions.create(name, flavor="formula", parameters={"kind": "linear", "coef": "x"})
    assert invalid.value.status in (400, 422) and invalid.value.detail


def test_a_server_that_is_not_there_is_one_sentence(tmp_path: Path) -> None:
    from tests.served import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with (
        Client(url, "t", retry=RetryPolicy(retries=2, backoff=0.01)) as c,
        pytest.raises(ConnectionFailed) as failed,
    ):
        c.models.get("x")
    assert str(failed.value).startswith(f"Cannot reach the modelyard server at {url}")


def test_jobs_follow_cancel_retry(admin_client: Client) -> None:
    kinds = {kind.name for kind in admin_client.jobs.kinds()}
    assert {"evaluation", "sleep"} <= kinds
    job = admin_client.jobs.submit("sleep", {"seconds": 0.2, "steps": 4}, priority="high")
    states = [j.status for j in admin_client.jobs.follow(job.id)]
    assert states[-1] == JobStatus.succeeded
    assert admin_client.jobs.get(job.id).status == JobStatus.succeeded

    long = admin_client.jobs.submit("sleep", {"seconds": 600, "steps": 6000})
    admin_client.jobs.cancel(long.id)
    assert admin_client.jobs.wait(long.id).status == JobStatus.cancelled
    again = admin_client.jobs.retry(long.id)
    assert again.status == JobStatus.queued
    admin_client.jobs.cancel(long.id)
    listed = [j.id for j in admin_client.jobs.list(kind="sleep", limit=50)]
    assert job.id in listed and long.id in listed


def test_drift_between_two_uploads(client: Client, name: str, tmp_path: Path) -> None:
    reference = client.datasets.upload(write_csv(tmp_path / "ref.csv", 3_000), name=f"{name}-r")
    current = client.datasets.upload(
        write_csv(tmp_path / "cur.csv", 3_000, shift=50.0), name=f"{name}-c"
    )
    check = client.drift.create(reference.id, current.name, columns=["x", "region"])
    done = client.drift.wait(check.id)
    assert done.status == "succeeded" and done.summary is not None
    assert done.summary.drifted == ["x"]
    assert check.id in {d.id for d in client.drift.list(dataset=current.id)}
    preview = client.datasets.preview(current.id, limit=3)
    assert len(preview.rows) == 3
    client.datasets.delete(reference.id)
    with pytest.raises(ApiError):
        client.datasets.get(reference.id)


def test_push_target_deployment_and_alerts(client: Client, admin_client: Client, name: str) -> None:
    client.models.create(name)
    client.versions.create(
        name, flavor="formula", parameters={"kind": "linear", "coef": {}, "intercept": 9000.0}
    )
    target = client.targets.create(f"{name}-t", "push", interval_seconds=0.2)
    assert target.kind == "push" and target.name in {t.name for t in client.targets.list()}
    now = time.time()
    samples = [
        {"t": now - 60 + i * 0.5, "metrics": {"ops_per_sec": 5000.0 + i}} for i in range(100)
    ]
    accepted = client.targets.push(target.name, samples, batch_size=30)
    assert (accepted.samples, accepted.accepted_points) == (100, 100)
    series = client.targets.metrics(target.name, start="-5m", end=str(now + 60), step="raw")
    assert series["target"] == target.name

    deployment = client.deployments.create(f"{name}-d", target.name, f"{name}/1")
    assert client.deployments.get(deployment.name).model == f"{name}/1"
    assert deployment.name in {d.name for d in client.deployments.list(target=target.name)}
    assert client.deployments.switches(deployment.name) is not None
    assert client.deployments.alerts(deployment.name) == []
    stopped = client.deployments.stop(deployment.name)
    assert stopped.status == "stopped"

    rule = admin_client.alerts.create_rule(
        name=f"{name}-cpu", metric="cpu_percent", threshold=99.9, for_seconds=600
    )
    assert admin_client.alerts.update_rule(rule.id, enabled=False).enabled is False
    assert rule.id in {r.id for r in admin_client.alerts.rules()}
    admin_client.alerts.delete_rule(rule.id)
    assert isinstance(list(client.alerts.list(state="open", limit=5)), list)
    client.deployments.delete(deployment.name)
    assert client.targets.stop(target.name).desired_state == "stopped"
    client.targets.delete(target.name)


def test_reports_users_and_tokens(client: Client, admin_client: Client, tmp_path: Path) -> None:
    queued = client.reports.create_weekly(days=7)
    job = client.jobs.wait(queued.job_id)
    assert job.status == JobStatus.succeeded, job.error
    report = next(iter(client.reports.list(kind="weekly", limit=1)))
    assert client.reports.get(report.id).id == report.id
    size = client.reports.download(report.id, "html", tmp_path / "weekly.html")
    assert size > 0 and (tmp_path / "weekly.html").read_bytes().startswith(b"<!")

    me = client.users.me()
    assert me.role.value == "editor"
    created = client.tokens.create("from-the-client", expires_in_days=1)
    with Client(client.url, created.token) as second:
        assert second.users.me().name == me.name
    client.tokens.revoke(created.id)
    assert created.id in {t.id for t in client.tokens.list() if t.revoked_at is not None}
    assert me.name in {u.name for u in admin_client.users.list()}


def test_prediction_logging(
    client: Client, viewer_client: Client, live_server: LiveServer, name: str
) -> None:
    import httpx

    client.models.create(name)
    client.versions.create(
        name, flavor="formula", parameters={"kind": "linear", "coef": {"x": 2.0}, "intercept": 1.0}
    )
    assert viewer_client.models.prediction_log(name).enabled is False
    with pytest.raises(ApiError) as refused:
        viewer_client.models.set_prediction_log(name, True)
    assert refused.value.status == 403
    assert client.models.set_prediction_log(name, True).enabled is True
    headers = {"Authorization": f"Bearer {live_server.tokens['viewer']}"}
    for rows in ([{"x": 1.0, "y": 3.0}], [{"x": 2.0, "y": 5.0}, {"x": 3.0, "y": 7.0}]):
        r = httpx.post(f"{live_server.base}/api/models/{name}/predict", json=rows, headers=headers)
        assert r.status_code == 200, r.text
    assert client.models.prediction_log(name).buffered_rows == 3
    [dataset] = client.models.flush_prediction_log(name).datasets
    assert isinstance(dataset, DatasetOut) and dataset.row_count == 3
    assert [c.name for c in dataset.columns][:4] == ["x", "y", "prediction", "version"]
