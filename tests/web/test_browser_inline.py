"""Errors inside the form that caused them, the input kept and the page not replaced, in
Chromium against a real ``modelyard serve``: an empty upload, an evaluation the server
refuses, a comparison of one evaluation (and a model's deletion confirmed with another name
comes back with the confirmation open and what was typed kept); the conversion step of an
upload shown as its own progress; deleting a version and a model after a confirmation
(audited), and a viewer who sees none of those controls and whose write the server refuses.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.browser_kit import _log_in, require_browser

pytestmark = pytest.mark.browser
sync_api = require_browser()


def _api(server: dict[str, Any], token: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=server["base"] + "/api",
        headers={"Authorization": f"Bearer {token or server['token']}"},
        timeout=30,
    )


def _model(server: dict[str, Any], versions: int = 2) -> str:
    name = f"inline-{uuid.uuid4().hex[:8]}"
    with _api(server) as api:
        assert api.post("/models", json={"name": name}).status_code == 201
        for number in range(1, versions + 1):
            r = api.post(
                f"/models/{name}/versions",
                json={
                    "flavor": "formula",
                    "parameters": {"kind": "linear", "intercept": float(number), "coef": {"x": 1}},
                },
            )
            assert r.status_code == 201, r.text
    return name


def _dataset(server: dict[str, Any], name: str, csv: str) -> dict[str, Any]:
    with _api(server) as api:
        r = api.post("/datasets", files={"file": ("d.csv", csv.encode())}, data={"name": name})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def _same_page(page: Any) -> None:
    page.evaluate("window.__samePage = true")


def _still_same_page(page: Any) -> bool:
    return bool(page.evaluate("window.__samePage === true"))


def test_an_empty_upload_is_refused_in_the_form(
    page: Any, server: dict[str, Any], tmp_path: Path
) -> None:
    empty = tmp_path / "nothing.csv"
    empty.write_bytes(b"")
    _log_in(page)
    page.goto("/datasets")
    _same_page(page)
    page.get_by_label("Name (optional)").fill("kept-name")
    page.get_by_label("File").set_input_files(str(empty))
    page.get_by_role("button", name="Upload").click()
    error = page.locator("#upload-form [data-upload-error]")
    sync_api.expect(error).to_be_visible()
    sync_api.expect(error).to_contain_text("empty")
    assert _still_same_page(page)
    sync_api.expect(page.get_by_label("Name (optional)")).to_have_value("kept-name")
    sync_api.expect(page.get_by_role("button", name="Upload")).to_be_enabled()


def test_the_conversion_step_shows_its_own_progress(
    page: Any, server: dict[str, Any], tmp_path: Path
) -> None:
    csv = tmp_path / "conversion.csv"
    with csv.open("w") as out:  # ~20 MB: a conversion long enough to be watched
        out.write("x,y,z,region\n")
        out.writelines(
            f"{i},{i * 0.37:.4f},{i % 97},{'eu' if i % 3 else 'us'}\n" for i in range(900_000)
        )
    _log_in(page)
    page.goto("/datasets")
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_label("Name (optional)").fill(f"conversion-{uuid.uuid4().hex[:6]}")
    page.evaluate(
        """() => { const text = document.querySelector('[data-upload-text]');
        new MutationObserver(() => {
          const seen = JSON.parse(sessionStorage.getItem('texts') || '[]');
          seen.push(text.textContent);
          sessionStorage.setItem('texts', JSON.stringify(seen));
        }).observe(text, {childList: true, characterData: true, subtree: true}); }"""
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/datasets/*", timeout=120_000)
    texts = page.evaluate("JSON.parse(sessionStorage.getItem('texts') || '[]')")
    converting = [
        int(m.group(1)) for t in texts if (m := re.search(r"converting to Parquet: (\d+)%", t))
    ]
    # the phase is shown, and the server's progress reached the page while it converted
    assert converting and converting[0] == 0, texts
    assert any(value > 0 for value in converting), texts
    assert converting == sorted(converting), texts
    sync_api.expect(page.locator(".meta")).to_contain_text("900,000 rows")


def test_a_refused_evaluation_says_why_in_its_form(page: Any, server: dict[str, Any]) -> None:
    model = _model(server)
    dataset = _dataset(server, f"unrelated-{uuid.uuid4().hex[:6]}", "p,q\n1,2\n3,4\n")
    _log_in(page)
    page.goto(f"/models/{model}")
    _same_page(page)
    page.locator("summary", has_text="Evaluate a version").click()
    page.get_by_label("Version", exact=True).last.select_option("1")
    page.get_by_label("Dataset", exact=True).last.select_option(str(dataset["id"]))
    page.get_by_label("Priority").select_option("low")
    page.get_by_role("button", name="Start evaluation").click()
    error = page.locator("#evaluate-error")
    sync_api.expect(error).to_be_visible()
    sync_api.expect(error).to_contain_text("has no column")
    assert _still_same_page(page)
    sync_api.expect(page.get_by_label("Version", exact=True).last).to_have_value("1")
    sync_api.expect(page.get_by_label("Dataset", exact=True).last).to_have_value(str(dataset["id"]))
    sync_api.expect(page.get_by_label("Priority")).to_have_value("low")


def test_comparing_one_evaluation_says_why_by_the_button(page: Any, server: dict[str, Any]) -> None:
    model = _model(server)
    dataset = _dataset(server, f"cmp-{uuid.uuid4().hex[:6]}", "x,y\n1,2\n2,3\n3,4\n")
    with _api(server) as api:
        for version in (1, 2):
            r = api.post(
                "/evaluations",
                json={"model": f"{model}/{version}", "dataset": dataset["id"], "target": "y"},
            )
            assert r.status_code == 202, r.text
    _log_in(page)
    page.goto(f"/evaluations?model={model}")
    _same_page(page)
    boxes = page.locator('input[name="ids"]')
    sync_api.expect(boxes).to_have_count(2)
    boxes.first.check()
    page.get_by_role("button", name="Compare selected").click()
    error = page.locator("#compare-error")
    sync_api.expect(error).to_be_visible()
    sync_api.expect(error).to_contain_text("two or more")
    assert _still_same_page(page) and boxes.first.is_checked()
    boxes.last.check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url("**/evaluations/compare?ids=*")
    sync_api.expect(page.locator("table.compare")).to_be_visible()


def test_delete_a_version_and_a_model_after_confirming(page: Any, server: dict[str, Any]) -> None:
    model = _model(server)
    _log_in(page)
    page.goto(f"/models/{model}/versions/1")
    page.locator("summary", has_text="Delete v1").click()
    page.get_by_role("button", name="Yes, delete v1").click()
    page.wait_for_url(f"**/models/{model}?done=deleted")
    page.goto(f"/models/{model}")
    page.locator("summary", has_text=f"Delete {model}").click()
    page.get_by_label("Model name").fill("not-its-name")
    page.get_by_role("button", name="Delete the model").click()
    sync_api.expect(page.locator("#delete-model-error")).to_contain_text("Type the model's name")
    sync_api.expect(page.get_by_label("Model name")).to_have_value("not-its-name")
    page.get_by_label("Model name").fill(model)
    page.get_by_role("button", name="Delete the model").click()
    page.wait_for_url("**/models?done=deleted")
    with _api(server) as api:
        assert api.get(f"/models/{model}").status_code == 404
        audit = api.get("/audit", params={"limit": 50}).json()["items"]
    done = {(a["action"], a["object_key"]) for a in audit}
    assert ("version.delete", model) in done and ("model.delete", model) in done


def test_a_viewer_sees_no_delete_or_evaluate_controls_and_is_refused(
    browser: Any, server: dict[str, Any]
) -> None:
    model = _model(server)
    name, password = f"viewer-{uuid.uuid4().hex[:6]}", "viewer-pass-1"
    with _api(server) as api:
        r = api.post("/users", json={"name": name, "password": password, "role": "viewer"})
        assert r.status_code == 201, r.text
    context = browser.new_context(base_url=server["base"])
    try:
        page = context.new_page()
        page.goto("/login?next=/models")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/models")
        for url in (f"/models/{model}", f"/models/{model}/versions/1", "/datasets"):
            page.goto(url)
            main = page.locator("main")
            for control in ("Delete", "Evaluate a version", "Upload a dataset", "Promote to"):
                sync_api.expect(main).not_to_contain_text(control)
        # the write, sent anyway with the viewer's own session and token, is refused
        token = page.evaluate(
            "document.querySelector('meta[name=csrf-token]')?.content"
            " || document.querySelector('input[name=csrf_token]')?.value || ''"
        )
        refused = page.request.post(
            f"/models/{model}/versions/1/delete",
            form={"csrf_token": token, "confirm": "yes"},
            headers={"Origin": server["base"]},
        )
        assert refused.status == 403 and "editor role" in refused.text(), refused.text()
    finally:
        context.close()
    with _api(server) as api:
        assert api.get(f"/models/{model}/versions/1").status_code == 200
