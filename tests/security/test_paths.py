"""Path traversal: every endpoint that reads or writes a file is tried with ``..``, encoded
``%2e%2e%2f``, absolute paths, NUL bytes and overlong names. Nothing outside the data
directory may be served, no client-supplied name may become a path, and every refusal is a
4xx (never a 500, never a file)."""

from __future__ import annotations

import io
import json

import pytest

from modelyard.config import Settings
from tests.conftest import Api

# (a bare ".." is resolved by the HTTP client, as a browser would, before it is sent)
TRAVERSALS = [
    "../../../../etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "x%00.json",
    "a" * 5000,
]

FILE_ROUTES = [
    "/api/reports/1/{p}",
    "/api/reports/{p}/json",
    "/api/deployments/1/report/{p}",
    "/api/deployments/{p}/report/json",
    "/api/datasets/uploads/{p}",
    "/api/datasets/{p}/preview",
    "/api/models/m/versions/{p}/artifact",
    "/api/models/{p}/versions/1/artifact",
    "/static/{p}",
]


def _no_leak(body: bytes) -> None:
    assert b"root:" not in body and b"[main]" not in body


@pytest.mark.parametrize("route", FILE_ROUTES)
def test_file_routes_refuse_traversal(viewer: Api, route: str) -> None:
    for bad in TRAVERSALS:
        path = route.format(p=bad)
        r = viewer.client.get(path, headers=viewer.headers)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
        _no_leak(r.content)


def test_dataset_upload_chunks_refuse_traversal_ids(editor: Api) -> None:
    for bad in TRAVERSALS:
        r = editor.client.put(
            f"/api/datasets/uploads/{bad}", headers=editor.headers, content=b"a,b\n1,2\n"
        )
        assert 400 <= r.status_code < 500, (bad, r.status_code, r.text[:200])


HOSTILE_NAMES = [
    "../../../../tmp/escape.csv",
    "/etc/passwd.csv",
    "..\\..\\windows\\x.csv",
    "nul\x00byte.csv",
    "x" * 400 + ".csv",
    '"quoted"\r\nX-Injected: 1.csv',
]


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
def test_dataset_upload_filename_never_reaches_the_file_system(
    editor: Api, settings: Settings, unique: str, filename: str
) -> None:
    before = {p for p in settings.home.rglob("*")}
    r = editor.post(
        "/datasets",
        files={"file": (filename, b"a,b\n1,2\n")},
        data={"name": f"hostile-{unique}"},
    )
    assert r.status_code in (201, 400, 422), r.text
    after = {p for p in settings.home.rglob("*")}
    root = settings.home.resolve()
    for path in after - before:
        assert path.resolve().is_relative_to(root)
        assert "escape" not in path.name and "passwd" not in path.name
    if r.status_code == 201:
        stored = r.json()["filename"]
        assert "\x00" not in stored and len(stored) <= 255
        assert "/" not in stored and "\\" not in stored and "\n" not in stored


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
def test_artifact_filename_is_a_plain_name_in_the_download(
    editor: Api, viewer: Api, unique: str, filename: str
) -> None:
    name = f"hostile-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    r = editor.post(
        f"/models/{name}/versions",
        files={"file": (filename, io.BytesIO(b"bytes"), "application/octet-stream")},
        data={"metadata": json.dumps({"flavor": "generic"})},
    )
    assert r.status_code in (201, 400, 422), r.text
    if r.status_code != 201:
        return
    stored = r.json()["artifact"]["filename"]
    assert stored is None or ("/" not in stored and "\\" not in stored and "\x00" not in stored)
    download = viewer.get(f"/models/{name}/versions/1/artifact")
    assert download.status_code == 200
    disposition = download.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
    assert "x-injected" not in {k.lower() for k in download.headers}


def test_nul_in_a_json_value_is_a_400_on_every_backend(editor: Api, unique: str) -> None:
    r = editor.post("/models", json={"name": f"nul-{unique}", "description": "a\u0000b"})
    assert r.status_code in (201, 400), r.text  # SQLite stores it; PostgreSQL cannot
    if r.status_code == 400:
        assert r.headers["content-type"] == "application/problem+json"
        assert "NUL" in r.json()["detail"]
