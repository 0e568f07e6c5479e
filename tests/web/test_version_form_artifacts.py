"""The new-version form stores an artifact only with its version: a file its flavor refuses
leaves no blob behind, and one it accepts is stored under its hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.testclient import TestClient

from modelyard.config import Settings
from modelyard.registry.artifacts import blob_key
from modelyard.storage import open_store
from tests.conftest import Api, blob_keys
from tests.web.conftest import csrf_of


def _files(settings: Settings) -> set[str]:
    return blob_keys(open_store(settings), "artifacts")


def test_refused_artifact_from_the_form_leaves_no_blob(
    browser_for: Callable[..., TestClient],
    editor: Api,
    model_name: str,
    settings: Settings,
    unique: str,
) -> None:
    client = browser_for("editor")
    url = f"/models/{model_name}/versions/new"
    token = csrf_of(client.get(url).text)
    before = _files(settings)
    refused = client.post(
        url,
        data={"csrf_token": token, "flavor": "sklearn", "parameters": "{}"},
        files={"file": ("m.skops", f"not a skops file {unique}".encode(), "application/zip")},
    )
    assert refused.status_code == 422 and "version-file-error" in refused.text
    assert _files(settings) == before
    assert len(editor.get(f"/models/{model_name}/versions").json()["items"]) == 2

    payload = f"opaque bytes {unique}".encode()
    stored = client.post(
        url,
        data={"csrf_token": token, "flavor": "generic", "parameters": "{}"},
        files={"file": ("w.bin", payload, "application/octet-stream")},
        follow_redirects=False,
    )
    assert stored.status_code == 303, stored.text
    sha = hashlib.sha256(payload).hexdigest()
    assert _files(settings) == before | {blob_key(sha)}


def test_version_page_previews_text_and_lists_archives(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    import io
    import zipfile

    client = browser_for("editor")
    url = f"/models/{model_name}/versions/new"
    token = csrf_of(client.get(url).text)
    config = b'{"b": 2, "a": "<script>x</script>"}'
    r = client.post(
        url,
        data={"csrf_token": token, "flavor": "generic", "parameters": "{}"},
        files={"file": ("config.json", config, "application/json")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    # indented, sorted and escaped
    assert "&#34;a&#34;: &#34;&lt;script&gt;x&lt;/script&gt;&#34;,\n  &#34;b&#34;: 2" in page

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/weights.bin", b"\0" * 2048)
        archive.writestr("model/README.md", "# weights")
    r = client.post(
        url,
        data={"csrf_token": token, "flavor": "generic", "parameters": "{}"},
        files={"file": ("bundle.zip", buffer.getvalue(), "application/zip")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "Files in the archive" in page and "model/weights.bin" in page and "2.0 KB" in page
