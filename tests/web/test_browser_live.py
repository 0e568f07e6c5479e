"""Many live tabs in one browser: they share one event connection (a SharedWorker), so a
browser's six connections per host stay free and another page still loads at once."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.web.browser_kit import WAIT_MS, _log_in, require_browser

pytestmark = pytest.mark.browser
sync_api = require_browser()


def _deployments(server: dict[str, Any], count: int) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {server['token']}"}
    with httpx.Client(base_url=server["base"] + "/api", headers=headers, timeout=30) as api:
        r = api.post(
            "/targets", json={"name": "tabs-target", "kind": "push", "config": {}, "start": False}
        )
        assert r.status_code in (201, 409), r.text
        out = []
        for i in range(count):
            r = api.post(
                "/deployments",
                json={"name": f"tab-{i}", "target": "tabs-target", "model": "cpu-per-put/1"},
            )
            assert r.status_code == 201, r.text
            out.append(r.json())
        return out


def _in_flight(server: dict[str, Any]) -> float:
    headers = {"Authorization": f"Bearer {server['token']}"}
    text = httpx.get(server["base"] + "/metrics", headers=headers, timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelyard_http_requests_in_flight")
    )


def test_eight_live_tabs_share_one_connection_and_a_ninth_page_loads(
    browser: Any, server: dict[str, Any]
) -> None:
    deployments = _deployments(server, 6)
    context = browser.new_context(base_url=server["base"], viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    streams: list[str] = []
    context.on(
        "request",
        lambda request: (
            streams.append(request.url)
            if "/events" in request.url and request.resource_type == "eventsource"
            else None
        ),
    )
    try:
        first = context.new_page()
        _log_in(first)
        tabs = [first]
        urls = ["/jobs", "/jobs"] + [f"/deployments/{d['id']}" for d in deployments]
        first.goto(urls[0])
        for url in urls[1:]:
            tab = context.new_page()
            tab.goto(url)
            tabs.append(tab)
        assert len(tabs) == 8
        for tab in tabs:
            sync_api.expect(tab.locator("[data-live-indicator]")).to_have_text("live")

        ninth = context.new_page()
        started = time.monotonic()
        ninth.goto("/models", wait_until="load", timeout=WAIT_MS)
        elapsed = time.monotonic() - started
        print(f"ninth page loaded in {elapsed * 1000:.0f} ms with eight live tabs open")
        sync_api.expect(ninth.get_by_role("heading", name="Models")).to_be_visible()
        # One stream per page would leave no connection for it: the load would wait for
        # one of the eight to close, i.e. forever. A loaded machine can still be slow.
        assert elapsed < 5, f"the ninth page took {elapsed:.1f} s"
        # Every tab's channels ride one stream: in flight are that stream, the API streams
        # it reads in-process (jobs, once for both job lists, and six deployments) and this
        # request; a stream per tab would be eight more.
        in_flight = _in_flight(server)
        assert in_flight <= 1 + 7 + 1 + 1, in_flight
    finally:
        context.close()


def test_the_service_worker_serves_the_offline_page(browser: Any, server: dict[str, Any]) -> None:
    context = browser.new_context(base_url=server["base"])
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        _log_in(page)
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now controlled by the worker, which cached the static assets
        assert page.evaluate("() => !!navigator.serviceWorker.controller")
        context.set_offline(True)
        page.goto("/jobs")
        sync_api.expect(page.get_by_role("heading", level=1)).to_have_text(
            "modelyard cannot be reached"
        )
        context.set_offline(False)
        page.goto("/jobs")
        sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text("Jobs")
    finally:
        context.close()
