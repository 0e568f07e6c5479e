"""The forms and charts added to the web UI, in Chromium against a real ``modelyard serve``
(the session's server, browser and page fixtures): uploading a dataset with a
progress bar, a new version with an artifact (and a JSON error shown at its field), starting
an evaluation and landing on its live job page, the metric trend chart, and walking back
through cursor pages.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.browser_kit import WAIT_MS, _log_in, require_browser

pytestmark = pytest.mark.browser
sync_api = require_browser()

ROWS = "".join(f"{i},{i * 1.1:.2f},{'eu' if i % 2 else 'us'}\n" for i in range(1, 41))
CSV = "x,y,region\n" + ROWS


def _api(server: dict[str, Any]) -> httpx.Client:
    return httpx.Client(
        base_url=server["base"] + "/api",
        headers={"Authorization": f"Bearer {server['token']}"},
        timeout=30,
    )


def _dataset(server: dict[str, Any], name: str) -> dict[str, Any]:
    with _api(server) as api:
        found = api.get("/datasets", params={"q": name}).json()["items"]
        if found:
            return found[0]  # type: ignore[no-any-return]
        r = api.post("/datasets", files={"file": ("d.csv", CSV.encode())}, data={"name": name})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def _wait_job(server: dict[str, Any], job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    with _api(server) as api:
        while True:
            job = api.get(f"/jobs/{job_id}").json()
            if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
                return job  # type: ignore[no-any-return]
            time.sleep(0.1)


def test_upload_a_dataset_in_chunks_with_progress_and_a_resume(
    page: Any, server: dict[str, Any], tmp_path: Path
) -> None:
    csv = tmp_path / "weekly-load.csv"
    csv.write_text("x,y,region\n" + ROWS * 10_000)  # ~5.4 MB: two 4 MB chunks
    _log_in(page)
    page.goto("/datasets")
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_label("Name (optional)").fill("weekly-load")
    page.get_by_label("Description (optional)").fill("Uploaded from the browser.")

    # The first chunk breaks on the network: the page asks where the upload stands and resumes.
    chunks: list[str] = []
    broken: list[str] = []

    def flaky(route: Any) -> None:
        if route.request.method == "PUT":
            if not broken:
                broken.append(route.request.url)
                route.abort()
                return
            chunks.append(route.request.url)
        route.continue_()

    page.route(re.compile(r"/api/datasets/uploads/[0-9a-f]{32}"), flaky)
    # the bar's moves, kept across the navigation that ends the upload
    page.evaluate(
        """() => { const bar = document.querySelector('[data-upload-bar]');
        new MutationObserver(() => {
          const seen = JSON.parse(sessionStorage.getItem('progress') || '[]');
          seen.push(bar.value);
          sessionStorage.setItem('progress', JSON.stringify(seen));
        }).observe(bar, {attributes: true, childList: true}); }"""
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/datasets/*")
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('progress') || '[]')")
    assert seen and seen[-1] == 1 and any(0 < value < 1 for value in seen), seen
    assert broken and broken[0].endswith("offset=0")
    assert [url.rsplit("=", 1)[1] for url in chunks] == ["0", str(4 << 20)]
    sync_api.expect(page.locator("h1")).to_have_text("weekly-load")
    sync_api.expect(page.locator(".meta")).to_contain_text("400,000 rows")
    sync_api.expect(page.locator("table.schema")).to_contain_text("region")
    sync_api.expect(page.locator("table.preview tbody tr")).to_have_count(20)
    with _api(server) as api:
        dataset = api.get(f"/datasets/{page.url.rsplit('/', 1)[1]}").json()
    assert dataset["size_bytes"] == csv.stat().st_size
    assert dataset["description"] == "Uploaded from the browser."
    page.screenshot(path=str(server["home"] / "dataset.png"), full_page=True)

    # a refused upload says why in the page and keeps nothing
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet")
    page.goto("/datasets")
    page.get_by_label("File").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    sync_api.expect(page.locator("#upload-form [data-upload-error]")).to_contain_text("parquet")
    assert page.url == server["base"] + "/datasets"
    sync_api.expect(page.get_by_role("button", name="Upload")).to_be_enabled()
    page.screenshot(path=str(server["home"] / "dataset-error.png"), full_page=True)
    with _api(server) as api:
        assert api.get("/datasets", params={"q": "broken"}).json()["items"] == []


def test_create_a_version_with_an_artifact(
    page: Any, server: dict[str, Any], tmp_path: Path
) -> None:
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(b"\x00\x01 some weights")
    _log_in(page)
    page.goto("/models/cpu-per-put")
    page.get_by_role("link", name="New version").click()
    page.wait_for_url("**/models/cpu-per-put/versions/new")
    page.evaluate("window.__samePage = true")
    page.get_by_label("Flavor").select_option("generic")
    page.get_by_label("Parameters (JSON object)").fill('{"note": "opaque",}')
    page.get_by_role("button", name="Create version").click()
    error = page.locator("#version-parameters-error")
    sync_api.expect(error).to_contain_text("Not valid JSON")
    assert page.evaluate("window.__samePage") is True  # the form was swapped in place
    assert page.get_by_label("Parameters (JSON object)").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(server["home"] / "version-error.png"), full_page=True)

    page.get_by_label("Parameters (JSON object)").fill('{"note": "opaque"}')
    page.get_by_label("Description").fill("Weights from the nightly run.")
    page.get_by_label("Source").fill("git:abc123")
    page.get_by_label("Artifact file (optional)").set_input_files(str(artifact))
    page.get_by_role("button", name="Create version").click()
    page.wait_for_url("**/models/cpu-per-put/versions/3")
    sync_api.expect(page.locator("main")).to_contain_text("weights.bin")
    with _api(server) as api:
        version = api.get("/models/cpu-per-put/versions/3").json()
        assert version["artifact"]["filename"] == "weights.bin"
        assert version["description"] == "Weights from the nightly run."
        blob = api.get("/models/cpu-per-put/versions/3/artifact")
        assert blob.content == artifact.read_bytes()


def test_start_an_evaluation_and_follow_its_job(page: Any, server: dict[str, Any]) -> None:
    dataset = _dataset(server, "eval-rows")
    _log_in(page)
    page.goto("/models/latency-linear")
    page.locator("summary", has_text="Evaluate a version").click()
    page.get_by_label("Version", exact=True).last.select_option("2")
    page.get_by_label("Dataset", exact=True).last.select_option(str(dataset["id"]))
    # the dataset's own columns are offered and its likely target chosen: nothing to type
    sync_api.expect(page.get_by_label("Target column")).to_have_value("y")
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Start evaluation").click()
    page.wait_for_url("**/jobs/*")
    panel = page.locator("#job-panel")
    sync_api.expect(panel.locator('[data-field="status"]')).to_have_text("succeeded")
    sync_api.expect(panel).to_contain_text("evaluation")
    page.screenshot(path=str(server["home"] / "evaluation-job.png"), full_page=True)
    with _api(server) as api:
        evaluations = api.get(
            "/evaluations", params={"model": "latency-linear", "dataset": dataset["id"]}
        ).json()["items"]
    assert evaluations[0]["version"] == 2 and evaluations[0]["priority"] == "high"


def test_metric_trend_chart_draws_the_points(page: Any, server: dict[str, Any]) -> None:
    dataset = _dataset(server, "trend-rows")
    with _api(server) as api:
        r = api.post(
            "/models/disk-growth/versions",
            json={
                "flavor": "formula",
                "parameters": {"kind": "linear", "intercept": 0.0, "coef": {"x": 1.1}},
            },
        )
        assert r.status_code == 201, r.text
        for version in (1, r.json()["version"]):
            r = api.post(
                "/evaluations",
                json={"model": f"disk-growth/{version}", "dataset": dataset["id"], "target": "y"},
            )
            assert r.status_code == 202, r.text
            assert _wait_job(server, r.json()["job_id"])["status"] == "succeeded"
        trend = api.get(
            "/models/disk-growth/metrics", params={"metric": "rmse", "dataset": dataset["id"]}
        ).json()
    _log_in(page)
    page.goto("/models/disk-growth?dataset=trend-rows")
    sync_api.expect(page.locator("[data-trend-chart] canvas")).to_have_count(1)
    page.evaluate("window.__samePage = true")
    page.get_by_label("Metric", exact=True).select_option("rmse")  # swaps the section
    figure = page.locator("[data-trend-chart]")
    sync_api.expect(figure.locator("canvas")).to_have_count(1)
    sync_api.expect(figure.locator("figcaption")).to_contain_text("rmse")
    # the swapped-in section's HTML comes first, its chart's script a moment later
    page.wait_for_function(
        "() => { const el = document.querySelector('[data-trend-chart]');"
        " return !!(el && el.modelyardTrend && el.modelyardPlot"
        " && el.modelyardTrend.metric === 'rmse'); }"
    )
    drawn = figure.evaluate(
        "el => ({metric: el.modelyardTrend.metric, x: Array.from(el.modelyardPlot.data[0]),"
        " y: Array.from(el.modelyardPlot.data[1]), series: el.modelyardPlot.series.length})"
    )
    assert drawn["metric"] == "rmse" and drawn["x"] == [1, 3] and drawn["series"] == 2
    assert drawn["y"] == pytest.approx([p["value"] for p in trend["points"]])
    assert drawn["y"][1] < drawn["y"][0]  # v3's coefficient matches the data: a falling line
    assert page.evaluate("window.__samePage") is True
    sync_api.expect(figure.locator(".u-legend")).to_contain_text("trend-rows")
    page.screenshot(path=str(server["home"] / "trend.png"), full_page=True)


def test_previous_page_navigation(page: Any, server: dict[str, Any]) -> None:
    with _api(server) as api:
        for i in range(55):
            api.post("/models", json={"name": f"paged-{i:02d}"})
    _log_in(page)
    page.goto("/models?q=paged-")
    rows = page.locator("#model-results tbody tr td.name a")
    sync_api.expect(rows.first).to_have_text("paged-00")
    page.get_by_role("link", name="Next page").click()
    sync_api.expect(rows.first).to_have_text("paged-25")
    page.get_by_role("link", name="Next page").click()
    sync_api.expect(rows.first).to_have_text("paged-50")
    sync_api.expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="Previous page").click()
    sync_api.expect(rows.first).to_have_text("paged-25")
    page.wait_for_url(lambda url: "back=" in url)
    page.get_by_role("link", name="Previous page").click()
    sync_api.expect(rows.first).to_have_text("paged-00")
    sync_api.expect(page.get_by_role("link", name="Previous page")).to_have_count(0)
    page.go_back()  # htmx pushed each page into the history
    sync_api.expect(rows.first).to_have_text("paged-25", timeout=WAIT_MS)


def test_generate_a_report_and_read_the_leaderboard(page: Any, server: dict[str, Any]) -> None:
    dataset = _dataset(server, "board-rows")
    with _api(server) as api:
        for version in (1, 2):
            r = api.post(
                "/evaluations",
                json={"model": f"cpu-per-put/{version}", "dataset": dataset["id"], "target": "y"},
            )
            assert r.status_code == 202, r.text
            assert _wait_job(server, r.json()["job_id"])["status"] == "succeeded"
    _log_in(page)
    page.goto("/reports")
    page.get_by_label("Days covered (ending today)").fill("7")
    page.get_by_role("button", name="Generate report").click()
    page.wait_for_url("**/jobs/*")
    # one worker, shared with the session's other jobs, renders the PDF: give it time
    sync_api.expect(page.locator('#job-panel [data-field="status"]')).to_have_text(
        "succeeded", timeout=5 * WAIT_MS
    )
    page.goto("/reports")
    html = page.get_by_role("link", name="HTML of report", exact=False).first
    sync_api.expect(html).to_be_visible()
    response = page.request.get(html.get_attribute("href"))
    assert response.status == 200 and "text/html" in response.headers["content-type"]
    page.screenshot(path=str(server["home"] / "reports.png"), full_page=True)

    page.goto("/leaderboard")
    page.get_by_label("Dataset").select_option("board-rows")
    page.get_by_label("Metric").select_option("rmse")
    table = page.locator("#leaderboard table")
    sync_api.expect(table.locator("caption")).to_contain_text("board-rows")
    sync_api.expect(table.locator("caption")).to_contain_text("rmse")
    sync_api.expect(table.locator("tbody tr")).to_have_count(2)
    sync_api.expect(table.locator("tbody tr").first).to_contain_text("cpu-per-put/")
    page.screenshot(path=str(server["home"] / "leaderboard.png"), full_page=True)
