"""Model pages: search, filters, pagination, the model and version pages, editor forms,
what a viewer sees and may do, escaping and response headers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of

HTMX = {"HX-Request": "true"}


def test_search_as_you_type_returns_the_results_fragment(
    browser_for: Callable[..., TestClient], model_name: str
) -> None:
    client = browser_for("viewer")
    full = client.get("/models", params={"q": model_name})
    assert full.status_code == 200 and "<html" in full.text and 'role="search"' in full.text
    part = client.get("/models", params={"q": model_name.upper()}, headers=HTMX)
    assert part.status_code == 200
    assert "<html" not in part.text
    assert f'href="/models/{model_name}"' in part.text
    assert "A web test model." in part.text
    none = client.get("/models", params={"q": model_name + "-nothing"}, headers=HTMX)
    assert "No model matches" in none.text
    assert "HX-Request" in part.headers["vary"]  # (and Accept-Encoding, when compressed)


def test_tag_and_flavor_filters(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    client = browser_for("viewer")
    prefix = model_name
    editor.post("/models", json={"name": f"{prefix}-bare", "tags": {"team": "other"}})

    def names(**params: str) -> set[str]:
        text = client.get("/models", params={"q": prefix, **params}, headers=HTMX).text
        return {n for n in (model_name, f"{prefix}-bare") if f'href="/models/{n}"' in text}

    assert names() == {model_name, f"{prefix}-bare"}
    assert names(tag="team=web") == {model_name}
    assert names(tag="team") == {model_name, f"{prefix}-bare"}
    assert names(tag="team=web, missing") == set()
    assert names(flavor="formula") == {model_name}
    assert names(flavor="onnx") == set()


def test_pagination_follows_next_links(
    browser_for: Callable[..., TestClient], editor: Api, unique: str
) -> None:
    prefix = f"page-{unique}"
    for i in range(27):
        editor.post("/models", json={"name": f"{prefix}-{i:02d}"})
    client = browser_for("viewer")
    first = client.get("/models", params={"q": prefix}).text
    assert f"{prefix}-24" in first and f"{prefix}-25" not in first
    assert 'rel="next"' in first
    next_url = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(next_url.replace("&amp;", "&"), headers=HTMX).text
    assert f"{prefix}-25" in second and f"{prefix}-26" in second and f"{prefix}-00" not in second
    assert 'rel="next"' not in second and 'rel="prev"' in second
    prev_url = second.split('rel="prev"')[0].rsplit('href="', 1)[1].split('"')[0]
    back = client.get(prev_url.replace("&amp;", "&"), headers=HTMX).text
    assert f"{prefix}-00" in back and f"{prefix}-25" not in back and 'rel="prev"' not in back


def test_model_page_shows_versions_lineage_metrics_and_tags(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    editor.put(f"/models/{model_name}/aliases/production", json={"version": 2})
    page = browser_for("viewer").get(f"/models/{model_name}")
    assert page.status_code == 200
    text = page.text
    assert f'href="/models/{model_name}/versions/2"' in text
    assert f'href="/models/{model_name}/versions/1">{model_name}/1</a>' in text  # lineage
    assert ">production</span>" in text
    assert "team=web" in text
    assert ">rmse</th>" in text and ">0.25<" in text


def test_version_page_shows_parameters_lineage_and_artifact(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    r = editor.post(
        f"/models/{model_name}/versions",
        files={"file": ("weights.bin", b"\x00\x01artifact", "application/octet-stream")},
        data={"metadata": f'{{"flavor": "generic", "parent": "{model_name}/2"}}'},
    )
    assert r.status_code == 201, r.text
    client = browser_for("viewer")
    text = client.get(f"/models/{model_name}/versions/3").text
    link = f"/api/models/{model_name}/versions/3/artifact"
    assert f'href="{link}"' in text and "weights.bin" in text
    assert f"{model_name}/2</a>" in text and f"{model_name}/1</a>" in text  # two ancestors
    assert client.get(link).content == b"\x00\x01artifact"  # the session cookie downloads it
    v1 = client.get(f"/models/{model_name}/versions/1").text
    assert "&#34;intercept&#34;: 1.0" in v1 and "Not derived from another version." in v1


def test_missing_model_is_an_html_404(browser_for: Callable[..., TestClient]) -> None:
    r = browser_for("viewer").get("/models/no-such-model-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "No model named" in r.text


def test_viewer_sees_no_write_controls(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    editor.put(f"/models/{model_name}/aliases/production", json={"version": 1})
    viewer_page = browser_for("viewer").get(f"/models/{model_name}").text
    editor_page = browser_for("editor").get(f"/models/{model_name}").text
    for control in ("/aliases", "/tags", "Set alias", "Add tag", "Remove alias"):
        assert control not in viewer_page, control
        assert control in editor_page, control
    assert "Recent changes" in editor_page and "Recent changes" not in viewer_page


def test_viewer_forged_posts_are_refused(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    client = browser_for("viewer")
    token = csrf_of(client.get("/models").text)  # the viewer's own, valid token
    for url, form in (
        (f"/models/{model_name}/aliases", {"alias": "forged", "version": "1"}),
        (f"/models/{model_name}/tags", {"key": "forged", "value": "x"}),
        (f"/models/{model_name}/tags/delete", {"key": "team"}),
    ):
        r = client.post(url, data={**form, "csrf_token": token})
        assert r.status_code == 403, url
        assert "needs the editor role" in r.text
        r = client.post(url, data=form, headers={**HTMX, "X-CSRF-Token": token})
        assert r.status_code == 403 and r.headers["hx-retarget"] == "#flash"
    model = editor.get(f"/models/{model_name}").json()
    assert "forged" not in model["aliases"] and model["tags"] == {"team": "web"}


def test_editor_moves_an_alias_and_edits_tags(
    browser_for: Callable[..., TestClient], editor: Api, model_name: str
) -> None:
    client = browser_for("editor")
    headers = {**HTMX, "X-CSRF-Token": csrf_of(client.get(f"/models/{model_name}").text)}
    base = f"/models/{model_name}"

    r = client.post(f"{base}/aliases", data={"alias": "staging", "version": "1"}, headers=headers)
    assert r.status_code == 200 and 'id="model-panel"' in r.text and "<html" not in r.text
    assert "Alias staging now points at v1." in r.text and 'hx-swap-oob="true"' in r.text
    assert '<section id="history"' in r.text and "alias.set" in r.text  # history refreshed too
    full = client.get(base).text
    assert full.count('<section id="history"') == 1 and "hx-swap-oob" not in full
    client.post(f"{base}/aliases", data={"alias": "staging", "version": "2"}, headers=headers)
    assert editor.get(base).json()["aliases"]["staging"] == 2

    client.post(f"{base}/tags", data={"key": "stage", "value": "beta"}, headers=headers)
    client.post(f"{base}/tags/delete", data={"key": "team"}, headers=headers)
    assert editor.get(base).json()["tags"] == {"stage": "beta"}

    r = client.post(f"{base}/aliases/staging/delete", data={}, headers=headers)
    assert r.status_code == 200 and "staging" not in editor.get(base).json()["aliases"]

    history = client.get(base).text
    assert "alias.set" in history and "alias.delete" in history


def test_bad_form_input_is_a_clear_message(
    browser_for: Callable[..., TestClient], model_name: str
) -> None:
    client = browser_for("editor")
    headers = {**HTMX, "X-CSRF-Token": csrf_of(client.get(f"/models/{model_name}").text)}
    base = f"/models/{model_name}"
    r = client.post(f"{base}/aliases", data={"alias": "9bad", "version": "1"}, headers=headers)
    assert r.status_code == 400 and "starts with a letter" in r.text
    assert r.headers["hx-retarget"] == "#flash"
    r = client.post(f"{base}/aliases", data={"alias": "ok", "version": "99"}, headers=headers)
    assert r.status_code == 404 and "has no version 99" in r.text
    r = client.post(f"{base}/tags", data={"key": "has space", "value": "x"}, headers=headers)
    assert r.status_code == 400 and "tag key" in r.text
    # without htmx the same error is a whole page
    r = client.post(
        f"{base}/aliases",
        data={"alias": "9bad", "version": "1", "csrf_token": headers["X-CSRF-Token"]},
    )
    assert r.status_code == 400 and "<html" in r.text


def test_user_text_is_escaped(
    browser_for: Callable[..., TestClient], editor: Api, unique: str
) -> None:
    name = f"xss-{unique}"
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    editor.post("/models", json={"name": name, "description": evil, "tags": {"note": evil[:40]}})
    editor.post(
        f"/models/{name}/versions",
        json={"flavor": "generic", "description": evil, "parameters": {"html": evil}},
    )
    client = browser_for("viewer")
    for url in ("/models?q=" + name, f"/models/{name}", f"/models/{name}/versions/1"):
        text = client.get(url).text
        assert "<script>alert" not in text and "<img src=x" not in text, url
        assert "&lt;script&gt;alert(" in text, url


def test_pages_send_security_headers(browser_for: Callable[..., TestClient]) -> None:
    r = browser_for("viewer").get("/models")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"


def test_static_assets_are_served(app_client: TestClient) -> None:
    r = app_client.get("/static/app.css")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    assert app_client.get("/static/../../app.py").status_code == 404


REGISTRY_TABLES = (
    "registered_models",
    "model_versions",
    "model_tags",
    "model_aliases",
    "version_tags",
    "api_tokens",
    "audit_log",
)


def _statements(client: TestClient, url: str) -> int:
    """SQL statements on the registry and auth tables that one page view runs.

    Background loops of the shared app (jobs, live deployments) use the same engine; their
    statements touch other tables and are not counted.
    """
    import sqlalchemy as sa

    engine = client.app.state.db.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def count(*args: object) -> None:
        if any(table in str(args[2]) for table in REGISTRY_TABLES):
            seen.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_pages_run_a_fixed_number_of_queries(
    browser_for: Callable[..., TestClient], editor: Api, unique: str
) -> None:
    small, large = f"few-{unique}", f"many-{unique}"
    for prefix, models in ((small, 2), (large, 20)):
        for i in range(models):
            name = f"{prefix}-{i:02d}"
            editor.post("/models", json={"name": name, "tags": {"a": "1", "b": "2"}})
            editor.put(f"/models/{name}/tags/c", json={"value": "3"})
    for count in range(8):
        editor.post(
            f"/models/{large}-00/versions",
            json={"flavor": "generic", "metrics": {"m": count}, "tags": {"t": "x"}},
        )
        if count == 0:
            editor.post(f"/models/{small}-00/versions", json={"flavor": "generic"})
    for number in (1, 2, 3):
        editor.put(f"/models/{large}-00/aliases/a{number}", json={"version": number})
    client = browser_for("viewer")
    client.get("/models")  # warm up: the first request of a session may write last_used_at
    assert _statements(client, f"/models?q={small}") == _statements(client, f"/models?q={large}")
    assert _statements(client, f"/models/{small}-00") == _statements(client, f"/models/{large}-00")
