"""Resumable dataset uploads: chunks, broken requests and answers, giving up, resuming.

The client talks to the app through its own transport with chosen chunk PUTs broken:
before the server sees them (``lost_requests``) or after it stored them, losing only the
answer (``lost_answers``). The client's transport retries are off, so what is tested is the
upload's own recovery: ask the server how much arrived and go on from there.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from modelyard.client import ApiError, Client, RetryPolicy, UploadFailed
from tests.conftest import Api

DATA = gzip.compress(b"a,y\n" + b"".join(b"%d,%d\n" % (i, 3 * i) for i in range(30_000)))


class FlakyTransport(httpx.BaseTransport):
    def __init__(
        self, inner: httpx.BaseTransport, *, lost_requests: set[int], lost_answers: set[int]
    ) -> None:
        self.inner = inner
        self.lost_requests = lost_requests
        self.lost_answers = lost_answers
        self.puts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            self.puts += 1
            if self.puts in self.lost_requests:
                raise httpx.WriteError("connection reset while sending", request=request)
            response = self.inner.handle_request(request)
            if self.puts in self.lost_answers:
                response.read()
                raise httpx.ReadError("connection reset while reading", request=request)
            return response
        return self.inner.handle_request(request)


def _client(app_client: TestClient, api: Api, **faults: set[int]) -> Client:
    transport = FlakyTransport(app_client._transport, **faults)  # type: ignore[attr-defined]
    token = api.headers["Authorization"].removeprefix("Bearer ")
    return Client("http://testserver", token, transport=transport, retry=RetryPolicy(retries=0))


def test_upload_survives_broken_chunks(
    app_client: TestClient, editor: Api, tmp_path: Path, unique: str
) -> None:
    path = tmp_path / "series.csv.gz"
    path.write_bytes(DATA)
    seen: list[int] = []
    retries: list[str] = []
    with _client(app_client, editor, lost_requests={2}, lost_answers={4}) as client:
        dataset = client.datasets.upload(
            path,
            name=f"cli-{unique}",
            chunk_bytes=20_000,
            progress=lambda done, _total: seen.append(done),
            on_retry=retries.append,
            backoff_seconds=0,
        )
    assert dataset.row_count == 30_000
    assert dataset.sha256 == hashlib.sha256(DATA).hexdigest()
    assert len(retries) == 2
    assert seen[-1] == len(DATA) and seen == sorted(seen)


def test_upload_gives_up_and_can_be_resumed(
    app_client: TestClient, editor: Api, tmp_path: Path, unique: str
) -> None:
    path = tmp_path / "series.csv.gz"
    path.write_bytes(DATA)
    flaky = _client(app_client, editor, lost_requests=set(range(3, 100)), lost_answers=set())
    with flaky, pytest.raises(UploadFailed, match="resume it later") as failed:
        flaky.datasets.upload(path, chunk_bytes=10_000, retries=2, backoff_seconds=0)
    upload_id = failed.value.upload_id
    assert editor.get(f"/datasets/uploads/{upload_id}").json()["received"] == 20_000
    with _client(app_client, editor, lost_requests=set(), lost_answers=set()) as client:
        dataset = client.datasets.upload(
            path, chunk_bytes=10_000, resume=upload_id, name=f"ignored-{unique}"
        )
    assert dataset.sha256 == hashlib.sha256(DATA).hexdigest()


def test_upload_reports_a_refused_file(app_client: TestClient, editor: Api, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n1,2\n3\n")
    client = _client(app_client, editor, lost_requests=set(), lost_answers=set())
    with client, pytest.raises(ApiError, match="Line 3 has 1 fields") as refused:
        client.datasets.upload(path)
    assert 400 <= refused.value.status < 500
