"""The web UI in a real browser: Debian's Chromium driven by Playwright against a real
``modelyard serve`` (the session's, see ``conftest.py``).

Covers what only a browser shows: logging in, search as you type (htmx), moving an alias from
the model page without a reload, and a job's progress bar advancing from Server-Sent Events
until it is cancelled from the page.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.web.browser_kit import WAIT_MS, _log_in, require_browser

pytestmark = pytest.mark.browser
sync_api = require_browser()


def test_log_in_search_and_move_an_alias(page: Any, server: dict[str, Any]) -> None:
    _log_in(page)
    assert page.locator(".who .role").inner_text() == "admin"
    rows = page.locator("#model-results tbody tr")
    assert rows.count() == 3

    page.evaluate("window.__samePage = true")
    page.get_by_label("Name", exact=True).press_sequentially("disk", delay=30)
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text("disk-growth")
    page.wait_for_url(lambda url: "q=disk" in url)  # in the address bar, to share
    assert page.evaluate("window.__samePage") is True  # htmx swapped the results in place

    # Leaving the box fires `change`, one more swap of the results: let it land before the
    # click, or the click can hit a link that is being replaced.
    page.get_by_label("Name", exact=True).blur()
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="disk-growth").click()
    page.wait_for_url("**/models/disk-growth")
    page.evaluate("window.__samePage = true")
    page.get_by_label("Alias", exact=True).fill("canary")
    page.get_by_label("Version", exact=True).select_option("1")
    page.get_by_role("button", name="Set alias").click()
    sync_api.expect(page.locator("#flash")).to_contain_text("Alias canary now points at v1.")
    sync_api.expect(page.locator(".aliases")).to_contain_text("canary")
    assert page.evaluate("window.__samePage") is True

    headers = {"Authorization": f"Bearer {server['token']}"}
    model = httpx.get(f"{server['base']}/api/models/disk-growth", headers=headers).json()
    assert model["aliases"]["canary"] == 1
    page.screenshot(path=str(server["home"] / "model.png"), full_page=True)


def test_job_progress_moves_live_and_cancel_stops_it(page: Any, server: dict[str, Any]) -> None:
    _log_in(page)
    page.goto("/jobs")
    sync_api.expect(page.locator("[data-live-indicator]")).to_have_text("live")
    page.evaluate("window.__samePage = true")

    headers = {"Authorization": f"Bearer {server['token']}"}
    r = httpx.post(
        f"{server['base']}/api/jobs",
        headers=headers,
        json={"kind": "sleep", "params": {"seconds": 60, "steps": 240}},
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]

    # The row appears and its bar moves, without a reload: both come from the SSE stream.
    row = page.locator(f"#job-{job_id}")
    sync_api.expect(row.locator('[data-field="status"]')).to_have_text("running")
    bar = row.locator("progress")
    page.wait_for_function(
        "el => el.value > 0", arg=bar.element_handle(), timeout=WAIT_MS, polling=100
    )
    first = bar.evaluate("el => el.value")
    page.wait_for_function(
        f"el => el.value > {first}", arg=bar.element_handle(), timeout=WAIT_MS, polling=100
    )
    sync_api.expect(row.locator('[data-field="text"]')).to_contain_text("step")
    assert page.evaluate("window.__samePage") is True

    row.get_by_role("button", name=f"Cancel job {job_id}").click()
    sync_api.expect(row.locator('[data-field="status"]')).to_contain_text("cancelled")
    sync_api.expect(row.get_by_role("button", name=f"Retry job {job_id}")).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    page.screenshot(path=str(server["home"] / "jobs.png"), full_page=True)

    job = httpx.get(f"{server['base']}/api/jobs/{job_id}", headers=headers).json()
    assert job["status"] == "cancelled" and job["progress"]["fraction"] < 1


def test_job_page_follows_one_job_to_its_end(page: Any, server: dict[str, Any]) -> None:
    _log_in(page)
    page.goto("/jobs")
    page.locator("summary", has_text="Run a job").click()
    page.get_by_label("Kind").last.select_option("sleep")
    page.get_by_label("Parameters (JSON object)").fill('{"seconds": 2, "steps": 8}')
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/jobs/*")
    page.evaluate("window.__samePage = true")
    panel = page.locator("#job-panel")
    sync_api.expect(panel.locator('[data-field="status"]')).to_have_text("succeeded")
    sync_api.expect(panel.locator(".progress-text")).to_contain_text("step 8/8")
    sync_api.expect(panel).to_contain_text('"steps": 8')  # the result, swapped in at the end
    sync_api.expect(page.locator("[data-live-indicator]")).to_have_text("finished")
    assert page.evaluate("window.__samePage") is True


def test_deployment_charts_draw_and_follow_new_intervals(page: Any, server: dict[str, Any]) -> None:
    pytest.importorskip("modelyard.deployments.endpoints")
    from modelyard.deployments._engine import deployment_owner
    from modelyard.kit.db import make_engine
    from modelyard.monitoring.store import MetricStore
    from modelyard.targets.service import target_owner

    headers = {"Authorization": f"Bearer {server['token']}"}
    base = server["base"]
    r = httpx.post(
        f"{base}/api/targets",
        headers=headers,
        json={"name": "pushed", "kind": "push", "config": {}, "start": False},
    )
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{base}/api/deployments",
        headers=headers,
        json={"name": "capacity", "target": "pushed", "model": "latency-linear@production"},
    )
    assert r.status_code == 201, r.text
    deployment = r.json()

    engine = make_engine(f"sqlite:///{server['home'] / 'modelyard.db'}")
    store = MetricStore(engine)

    def write(ts: int, predicted: float) -> None:
        store.write(
            deployment_owner(deployment["id"]),
            [(ts, {"predicted_smax": predicted, "actual_smax": 41_000.0, "error_pct": 2.5})],
        )
        store.write(
            target_owner(deployment["target_id"]),
            [(ts, {"ops_per_sec": 39_000.0, "latency_p99_us": 850.0, "cpu_process_cores": 1.4})],
        )

    try:
        now = int(time.time() * 1000)
        for i in range(30, 0, -1):
            write(now - i * 1000, 42_000.0 + 10 * i)
        _log_in(page)
        page.goto(f"/deployments/{deployment['id']}")
        for chart in ("smax", "qps", "latency", "cpu", "error"):
            sync_api.expect(page.locator(f'[data-chart="{chart}"] canvas')).to_have_count(1)
        sync_api.expect(page.locator("[data-live-indicator]")).to_have_text("live")
        sync_api.expect(page.locator('[data-chart="smax"] .legend')).to_contain_text(
            "predicted S_max"
        )
        count = "() => document.querySelector('[data-deployment-charts]').modelyardData.own.get('predicted_smax').size"
        before = page.evaluate(count)
        assert 2 <= before <= 30  # 30 one-second points, bucketed to half the chart width
        write(int(time.time() * 1000), 45_678.0)  # a new interval arrives
        sync_api.expect(page.locator('[data-stat="predicted"]')).to_have_text("45,678 ops/s")
        # the stat and the chart's data are updated from the same event, not in one tick
        page.wait_for_function(f"({count})() === {before + 1}")
        assert page.evaluate(count) == before + 1
        page.screenshot(path=str(server["home"] / "deployment.png"), full_page=True)
    finally:
        engine.dispose()
