"""Compression: brotli or gzip as the client asks, never for event streams; static assets
pre-compressed and immutable for a year at their versioned URL."""

from __future__ import annotations

import gzip

import brotli
import pytest
from fastapi.testclient import TestClient

from modelyard.kit.compression import accepted_encoding
from modelyard.web._render import asset_version, static_url
from tests.conftest import Api


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("identity", None),
        ("", None),
        ("gzip;q=x", None),
    ],
)
def test_accepted_encoding(header: str, expected: str | None) -> None:
    assert accepted_encoding(header) == expected


def _raw(
    client: TestClient, url: str, encoding: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    with client.stream("GET", url, headers={"Accept-Encoding": encoding, **headers}) as r:
        return r.status_code, dict(r.headers), b"".join(r.iter_raw())


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_pages_and_api_are_compressed(
    app_client: TestClient, editor: Api, encoding: str, unique: str
) -> None:
    for i in range(8):  # a list long enough to be worth compressing
        editor.post("/models", json={"name": f"gz-{unique}-{i}", "description": "x " * 40})
    for url, headers in (
        ("/login", {}),
        ("/api/openapi.json", {}),
        ("/api/models", editor.headers),
    ):
        if url == "/api/openapi.json" and app_client.get(url).status_code != 200:
            url = "/openapi.json"
        status, out, body = _raw(app_client, url, encoding, **headers)
        assert status == 200, url
        assert out.get("content-encoding") == encoding, url
        assert "accept-encoding" in out.get("vary", "").lower()
        plain = brotli.decompress(body) if encoding == "br" else gzip.decompress(body)
        assert len(plain) > len(body)
    status, out, _ = _raw(app_client, "/login", "identity")
    assert status == 200 and "content-encoding" not in out


def test_event_streams_are_never_compressed(app_client: TestClient, editor: Api) -> None:
    r = editor.post(
        "/targets", json={"name": f"sse-{id(editor)}", "kind": "push", "config": {}, "start": False}
    )
    assert r.status_code == 201, r.text
    target = r.json()["name"]
    model = f"sse-model-{id(editor)}"
    assert editor.post("/models", json={"name": model}).status_code == 201
    r = editor.post(
        f"/models/{model}/versions",
        json={"flavor": "formula", "parameters": {"kind": "linear", "intercept": 1.0, "coef": {}}},
    )
    assert r.status_code == 201, r.text
    r = editor.post(
        "/deployments", json={"name": f"{model}-d", "target": target, "model": f"{model}/1"}
    )
    assert r.status_code == 201, r.text
    url = f"/api/deployments/{r.json()['id']}/events?timeout=0.3"
    status, out, body = _raw(app_client, url, "br, gzip", **editor.headers)
    assert status == 200
    assert out["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in out
    assert body.startswith(b"retry:")


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_static_assets_are_precompressed_and_immutable(
    app_client: TestClient, encoding: str
) -> None:
    url = static_url("app.css")
    assert f"v={asset_version()}" in url
    status, out, body = _raw(app_client, url, encoding)
    assert status == 200
    assert out["content-encoding"] == encoding
    assert out["cache-control"] == "public, max-age=31536000, immutable"
    plain = brotli.decompress(body) if encoding == "br" else gzip.decompress(body)
    status, identity, same = _raw(app_client, url, "identity")
    assert status == 200 and "content-encoding" not in identity and plain == same
    # without the current version, the browser must come back within the hour
    status, out, _ = _raw(app_client, "/static/app.css?v=old", encoding)
    assert status == 200 and out["cache-control"] == "public, max-age=3600"
