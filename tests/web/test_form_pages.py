"""The pages added for datasets, new models and versions, the metric trend, starting an
evaluation, reports and the leaderboard; and previous-page links. Every form that writes
is refused to a viewer by the server (403, nothing written), whatever the page showed, and
to anyone without the page's CSRF token."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from html import unescape

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of

pytest.importorskip("modelyard.evaluations.service")

HTMX = {"HX-Request": "true"}
CSV = b"x,y,region\n1,1.1,eu\n2,2.2,eu\n3,2.9,us\n4,4.2,us\n"


def _token(client: TestClient, path: str = "/models") -> str:
    return csrf_of(client.get(path).text)


def _wait_job(api: Api, job_id: int) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while True:
        body = api.get(f"/jobs/{job_id}").json()
        if body["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return body  # type: ignore[no-any-return]
        time.sleep(0.05)


@pytest.fixture
def dataset(editor: Api, unique: str) -> dict:  # type: ignore[type-arg]
    r = editor.post("/datasets", files={"file": ("d.csv", CSV)}, data={"name": f"ds-{unique}"})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


# --- datasets ------------------------------------------------------------------------------


def test_dataset_list_and_detail_show_schema_and_rows(
    browser_for: Callable[..., TestClient],
    dataset: dict,  # type: ignore[type-arg]
) -> None:
    viewer = browser_for("viewer")
    listing = viewer.get("/datasets", params={"q": dataset["name"]})
    assert listing.status_code == 200
    assert f'href="/datasets/{dataset["id"]}"' in listing.text
    assert "upload-form" not in listing.text  # no write control for a viewer
    page = viewer.get(f"/datasets/{dataset['id']}")
    assert page.status_code == 200
    assert "region" in page.text and "int64" in page.text and "double" in page.text
    assert "<td>2.9</td>" in page.text and "<td>us</td>" in page.text
    assert viewer.get("/datasets/999999999").status_code == 404


def test_upload_form_streams_a_dataset_for_editors(
    browser_for: Callable[..., TestClient],
    editor: Api,
    unique: str,
    tokens: dict[str, tuple[str, str]],
) -> None:
    client = browser_for("editor")
    listing = client.get("/datasets")
    assert "upload-form" in listing.text
    token = csrf_of(listing.text)
    name = f"up-{unique}"
    r = client.post(
        "/datasets/upload",
        data={"csrf_token": token, "name": name, "description": "from the form"},
        files={"file": ("rows.csv", CSV, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    dataset_id = int(r.headers["location"].rsplit("/", 1)[1])
    stored = editor.get(f"/datasets/{dataset_id}").json()
    assert stored["name"] == name and stored["row_count"] == 4
    assert stored["created_by"] == tokens["editor"][0]
    assert stored["description"] == "from the form"

    # the script's way: token in a header, answered with HX-Redirect
    r = client.post(
        "/datasets/upload",
        data={"name": f"up2-{unique}"},
        files={"file": ("rows.csv", CSV, "text/csv")},
        headers={"X-CSRF-Token": token, **HTMX},
    )
    assert r.status_code == 204 and r.headers["HX-Redirect"].startswith("/datasets/")

    # a bad file is refused with a readable message in the flash region
    r = client.post(
        "/datasets/upload",
        data={"name": f"bad-{unique}"},
        files={"file": ("rows.parquet", b"not parquet at all", "application/octet-stream")},
        headers={"X-CSRF-Token": token, **HTMX},
    )
    assert r.status_code in (400, 415, 422), r.text
    assert r.headers["HX-Retarget"] == "#flash" and "flash-error" in r.text
    assert editor.get("/datasets", params={"q": f"bad-{unique}"}).json()["items"] == []


def test_a_refused_plain_upload_keeps_the_form_and_says_why_by_the_button(
    browser_for: Callable[..., TestClient], editor: Api, unique: str
) -> None:
    """Without JavaScript: an empty file or a bad name comes back as the list page with the
    form, the message inside it, and what was typed kept; nothing is stored."""
    client = browser_for("editor")
    token = _token(client)
    r = client.post(
        "/datasets/upload",
        data={
            "csrf_token": token,
            "name": f"empty-{unique}",
            "description": "kept <b>as typed</b>",
            "format": "csv",
        },
        files={"file": ("empty.csv", b"", "text/csv")},
    )
    assert r.status_code == 400, r.text
    form = r.text[r.text.index('id="upload-form"') :]
    error = re.search(r"data-upload-error>([^<]*)</p>", form)
    assert error and "empty" in error.group(1).lower(), form
    assert f'value="empty-{unique}"' in form
    assert "kept &lt;b&gt;as typed&lt;/b&gt;</textarea>" in form
    assert '<option value="csv" selected>' in form
    r = client.post(
        "/datasets/upload",
        data={"csrf_token": token, "name": "-bad name-", "description": "d"},
        files={"file": ("rows.csv", CSV, "text/csv")},
    )
    assert r.status_code == 400 and "A dataset name is 1-200" in r.text
    assert 'value="-bad name-"' in r.text and 'id="upload-form"' in r.text
    for prefix in ("empty-", "-bad"):
        assert editor.get("/datasets", params={"q": prefix + unique}).json()["items"] == []


def test_upload_is_refused_to_viewers_and_without_a_token(
    browser_for: Callable[..., TestClient], editor: Api, unique: str
) -> None:
    viewer = browser_for("viewer")
    r = viewer.post(
        "/datasets/upload",
        data={"csrf_token": _token(viewer), "name": f"v-{unique}"},
        files={"file": ("rows.csv", CSV)},
    )
    assert r.status_code == 403 and "editor role" in r.text
    client = browser_for("editor")
    r = client.post(
        "/datasets/upload",
        data={"csrf_token": "forged", "name": f"f-{unique}"},
        files={"file": ("rows.csv", CSV)},
    )
    assert r.status_code == 403
    r = client.post(
        "/datasets/upload",
        data={"name": f"o-{unique}", "csrf_token": _token(client)},
        files={"file": ("rows.csv", CSV)},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    for prefix in ("v-", "f-", "o-"):
        assert editor.get("/datasets", params={"q": prefix + unique}).json()["items"] == []


# --- new model, new version ----------------------------------------------------------------


def test_new_model_form_creates_and_shows_field_errors(
    browser_for: Callable[..., TestClient], editor: Api, unique: str
) -> None:
    client = browser_for("editor")
    form = client.get("/models/new")
    assert form.status_code == 200 and 'for="model-name"' in form.text
    token = csrf_of(form.text)
    r = client.post("/models/new", data={"csrf_token": token, "name": "no spaces allowed"})
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and "model-name-error" in r.text
    assert 'value="no spaces allowed"' in r.text  # what was typed is kept
    name = f"formed-{unique}"
    r = client.post(
        "/models/new",
        data={"csrf_token": token, "name": name, "description": "<b>made</b> in a form"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/models/{name}"
    assert editor.get(f"/models/{name}").json()["description"] == "<b>made</b> in a form"
    page = client.get(f"/models/{name}").text
    assert "&lt;b&gt;made&lt;/b&gt;" in page and "<b>made</b>" not in page
    again = client.post("/models/new", data={"csrf_token": token, "name": name}, headers=HTMX)
    assert again.status_code == 422 and "already" in again.text.lower()
    assert "<html" not in again.text  # htmx gets the form alone


def test_new_version_form_validates_json_and_stores_an_artifact(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    client = browser_for("editor")
    form = client.get(f"/models/{model_name}/versions/new")
    assert form.status_code == 200 and "It will be v3" in form.text
    token = csrf_of(form.text)
    url = f"/models/{model_name}/versions/new"
    r = client.post(
        url,
        data={"csrf_token": token, "flavor": "formula", "parameters": '{"kind": "linear",'},
        files={"file": ("", b"")},
    )
    assert r.status_code == 422
    error = re.search(r'id="version-parameters-error">([^<]*)<', r.text)
    assert error and "Not valid JSON" in error.group(1)
    assert 'aria-describedby="version-parameters-error"' in r.text
    r = client.post(url, data={"csrf_token": token, "flavor": "formula", "parameters": "[1, 2]"})
    assert r.status_code == 422 and "must be a JSON object" in unescape(r.text)
    assert len(editor.get(f"/models/{model_name}/versions").json()["items"]) == 2

    r = client.post(
        url,
        data={
            "csrf_token": token,
            "flavor": "generic",
            "parameters": json.dumps({"note": "opaque"}),
            "description": "with a file",
            "source": "git:abc123",
        },
        files={"file": ("weights.bin", b"\x00\x01binary artifact", "application/octet-stream")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/models/{model_name}/versions/3"
    version = editor.get(f"/models/{model_name}/versions/3").json()
    assert version["source"] == "git:abc123" and version["artifact"]["filename"] == "weights.bin"
    blob = editor.get(f"/models/{model_name}/versions/3/artifact")
    assert blob.content == b"\x00\x01binary artifact"

    pickle = client.post(
        url,
        data={"csrf_token": token, "flavor": "generic", "parameters": "{}"},
        files={"file": ("model.pkl", b"\x80\x04\x95 pickled", "application/octet-stream")},
    )
    assert pickle.status_code == 422 and "version-file-error" in pickle.text
    assert len(editor.get(f"/models/{model_name}/versions").json()["items"]) == 3


def test_model_forms_are_refused_to_viewers(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str, unique: str
) -> None:
    viewer = browser_for("viewer")
    page = viewer.get(f"/models/{model_name}").text
    assert "/versions/new" not in page and "Evaluate a version" not in page
    assert "/models/new" not in viewer.get("/models").text
    assert viewer.get("/models/new").status_code == 403
    assert viewer.get(f"/models/{model_name}/versions/new").status_code == 403
    token = _token(viewer)
    r = viewer.post("/models/new", data={"csrf_token": token, "name": f"viewer-{unique}"})
    assert r.status_code == 403
    assert editor.get(f"/models/viewer-{unique}").status_code == 404
    r = viewer.post(
        f"/models/{model_name}/versions/new",
        data={"csrf_token": token, "flavor": "generic", "parameters": "{}"},
        files={"file": ("a.bin", b"data")},
    )
    assert r.status_code == 403
    r = viewer.post(
        f"/models/{model_name}/evaluations",
        data={"csrf_token": token, "version": "1", "dataset": "1", "target": "y"},
    )
    assert r.status_code == 403
    assert len(editor.get(f"/models/{model_name}/versions").json()["items"]) == 2
    editor_client = browser_for("editor")
    r = editor_client.post("/models/new", data={"name": f"nocsrf-{unique}"})
    assert r.status_code == 403
    assert editor.get(f"/models/nocsrf-{unique}").status_code == 404


# --- trend chart and starting an evaluation ------------------------------------------------


def test_start_an_evaluation_then_see_the_trend(
    browser_for: Callable[..., TestClient],
    editor: Api,
    model_name: str,
    dataset: dict,  # type: ignore[type-arg]
) -> None:
    client = browser_for("editor")
    page = client.get(f"/models/{model_name}").text
    assert "Evaluate a version" in page and "No succeeded evaluations" in page
    token = csrf_of(page)
    jobs = []
    for version in (1, 2):
        r = client.post(
            f"/models/{model_name}/evaluations",
            data={
                "csrf_token": token,
                "version": str(version),
                "dataset": str(dataset["id"]),
                "target": "y",
                "priority": "high",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/jobs/")
        jobs.append(int(r.headers["location"].rsplit("/", 1)[1]))
    for job_id in jobs:
        assert _wait_job(editor, job_id)["status"] == "succeeded"
    assert client.get(f"/jobs/{jobs[0]}").status_code == 200

    bad = client.post(
        f"/models/{model_name}/evaluations",
        data={"csrf_token": token, "version": "1", "dataset": str(dataset["id"]), "target": "nope"},
        headers=HTMX,
    )
    assert bad.status_code == 422 and "has no column" in unescape(bad.text)
    # the message goes inside the form, by its button; the form and its choices stay
    assert bad.headers["HX-Retarget"] == "#evaluate-error"
    assert bad.text.startswith('<p id="evaluate-error"')
    # without JavaScript: the model page again, the form open, the choices kept
    plain = client.post(
        f"/models/{model_name}/evaluations",
        data={
            "csrf_token": token,
            "version": "2",
            "dataset": str(dataset["id"]),
            "target": "nope",
            "priority": "low",
        },
    )
    assert plain.status_code == 422 and 'id="evaluate" open' in plain.text
    form = plain.text[plain.text.index('id="evaluate"') :]
    error = re.search(r'<p id="evaluate-error"[^>]*>([^<]*)</p>', form)
    assert error and "has no column" in unescape(error.group(1))
    assert '<option value="2" selected>' in form and '<option value="low" selected>' in form
    assert f'<option value="{dataset["id"]}" selected>' in form

    page = client.get(f"/models/{model_name}", params={"metric": "mae"}).text
    figure = re.search(r'data-trend="([^"]*)"', page)
    assert figure, "no trend chart"
    chart = json.loads(unescape(figure.group(1)))
    assert chart["metric"] == "mae" and chart["versions"] == [1, 2]
    assert [s["name"] for s in chart["series"]] == [dataset["name"]]
    trend = editor.get(f"/models/{model_name}/metrics", params={"metric": "mae"}).json()
    assert chart["series"][0]["values"] == [p["value"] for p in trend["points"]]
    fragment = client.get(
        f"/models/{model_name}/trend", params={"metric": "rmse"}, headers=HTMX
    ).text
    assert fragment.startswith(
        '<section class="card" id="trend"'
    ) and '"metric": "rmse"' in unescape(fragment)


# --- reports and leaderboard ---------------------------------------------------------------


def test_reports_page_generates_a_report_as_a_job(
    browser_for: Callable[..., TestClient], editor: Api
) -> None:
    viewer = browser_for("viewer")
    listing = viewer.get("/reports")
    assert listing.status_code == 200 and "Generate report" not in listing.text
    r = viewer.post("/reports/weekly", data={"csrf_token": csrf_of(listing.text), "days": "7"})
    assert r.status_code == 403
    client = browser_for("editor")
    token = csrf_of(client.get("/reports").text)
    r = client.post("/reports/weekly", data={"csrf_token": token, "days": "400"})
    assert r.status_code == 400 and "1 to 92 days" in r.text
    r = client.post(
        "/reports/weekly", data={"csrf_token": token, "days": "7"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job = _wait_job(editor, int(r.headers["location"].rsplit("/", 1)[1]))
    assert job["status"] == "succeeded", job
    report = editor.get("/reports").json()["items"][0]
    listing = viewer.get("/reports").text
    for fmt in report["files"]:
        assert f'href="/api/reports/{report["id"]}/{fmt}"' in listing
        assert viewer.get(f"/api/reports/{report['id']}/{fmt}").status_code == 200


def test_leaderboard_ranks_versions(
    browser_for: Callable[..., TestClient],
    editor: Api,
    model_name: str,
    dataset: dict,  # type: ignore[type-arg]
) -> None:
    for version in (1, 2):
        r = editor.post(
            "/evaluations",
            json={"model": f"{model_name}/{version}", "dataset": dataset["id"], "target": "y"},
        )
        assert r.status_code == 202, r.text
        assert _wait_job(editor, r.json()["job_id"])["status"] == "succeeded"
    viewer = browser_for("viewer")
    page = viewer.get("/leaderboard", params={"dataset": str(dataset["id"]), "metric": "mae"})
    assert page.status_code == 200
    board = editor.get(
        "/analytics/leaderboard", params={"dataset": dataset["id"], "metric": "mae"}
    ).json()
    ranked = re.findall(r'<th scope="row"><a href="/models/[^"]+/versions/(\d+)">', page.text)
    assert [int(v) for v in ranked] == [e["version"] for e in board["entries"]]
    assert len(ranked) == 2


# --- previous-page navigation --------------------------------------------------------------


def _link(html: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]*)" rel="{rel}"', html)
    return unescape(match.group(1)) if match else None


def test_previous_page_walks_back_through_cursor_pages(
    browser_for: Callable[..., TestClient], editor: Api, unique: str
) -> None:
    prefix = f"pg-{unique}"
    for i in range(60):
        assert editor.post("/models", json={"name": f"{prefix}-{i:02d}"}).status_code == 201
    client = browser_for("viewer")
    pages = [client.get("/models", params={"q": prefix}).text]
    assert _link(pages[0], "prev") is None
    while (following := _link(pages[-1], "next")) is not None:
        pages.append(client.get(following).text)
    assert len(pages) == 3  # 25 + 25 + 10
    names = [set(re.findall(rf">({prefix}-\d\d)<", page)) for page in pages]
    assert [len(n) for n in names] == [25, 25, 10]
    # back from the last page, one page at a time, to the first
    page = pages[-1]
    for expected in (names[1], names[0]):
        previous = _link(page, "prev")
        assert previous is not None
        page = client.get(previous).text
        assert set(re.findall(rf">({prefix}-\d\d)<", page)) == expected
    assert _link(page, "prev") is None


def test_previous_page_ignores_a_tampered_stack(browser_for: Callable[..., TestClient]) -> None:
    client = browser_for("viewer")
    r = client.get("/jobs", params={"back": "../../etc.<script>", "cursor": ""})
    assert r.status_code == 200 and "<script>" not in r.text.split("</head>")[1]
