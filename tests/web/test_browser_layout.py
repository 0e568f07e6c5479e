"""Every page at 360 px wide (a small phone): nothing makes the page scroll sideways (wide
tables scroll inside their own box), and a screenshot of each is kept for a look."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.browser_kit import WAIT_MS, _log_in, require_browser

pytestmark = pytest.mark.browser
sync_api = require_browser()

PAGES = [
    "/models",
    "/models/disk-growth",
    "/models/disk-growth/versions/2",
    "/models/new",
    "/jobs",
    "/evaluations",
    "/datasets",
    "/deployments",
    "/deployments/new",
    "/targets",
    "/targets/new",
    "/reports",
    "/alerts",
    "/drift",
    "/admin/users",
    "/admin/notifications",
]

# What sticks out past the right edge, for the failure message.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    let clipped = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") { clipped = true; break; }
    }
    if (box.right > width + 1 && !clipped && getComputedStyle(el).position !== "fixed") {
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "") + " " + Math.round(box.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, width: width, out: out.slice(0, 8)};
}"""


def test_no_page_scrolls_sideways_at_360_px(browser: Any, server: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {server['token']}"}
    deployments = httpx.get(f"{server['base']}/api/deployments", headers=headers).json()["items"]
    pages = PAGES + [f"/deployments/{d['id']}" for d in deployments[:1]]
    context = browser.new_context(base_url=server["base"], viewport={"width": 360, "height": 740})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        _log_in(page)
        wide = {}
        for url in pages:
            page.goto(url)
            page.wait_for_load_state("load")
            found = page.evaluate(OVERFLOW)
            if found["scroll"] > found["width"]:
                wide[url] = found
            name = url.strip("/").replace("/", "_") or "home"
            page.screenshot(path=str(server["home"] / f"360-{name}.png"), full_page=True)
        assert not wide, wide
    finally:
        context.close()
