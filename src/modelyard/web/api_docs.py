"""The API's documentation pages, from the server's own files: Swagger UI at ``/docs``, ReDoc
at ``/redoc``, and the problem types at ``/problems``.

Swagger UI and ReDoc are vendored by ``scripts/fetch-assets.sh`` (npm) into ``static/vendor``
and shipped in the wheel, so the pages work offline and load nothing from elsewhere; their
CSP allows scripts from this server only (Swagger UI starts from ``static/api-docs.js``, not
an inline script).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from modelyard.kit.problem_types import PROBLEMS_PATH
from modelyard.kit.problem_types import page as problems_page
from modelyard.web._render import static_url, vendor_available

router = APIRouter(include_in_schema=False)

_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_MISSING = (
    "<!doctype html><title>modelyard API</title><p>The documentation viewer is not installed "
    "(run scripts/fetch-assets.sh); the API is described at <a href=/openapi.json>/openapi.json"
    "</a> and its errors at <a href=/problems>/problems</a>.</p>"
)


def _page(title: str, head: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f'<meta name=viewport content="width=device-width, initial-scale=1">{head}</head>'
        f"<body>{body}</body></html>"
    )


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    if not vendor_available("swagger-ui-bundle.js"):
        return HTMLResponse(_MISSING, headers=_HEADERS)
    return HTMLResponse(
        _page(
            "modelyard API",
            f'<link rel=stylesheet href="{static_url("vendor/swagger-ui.css")}">',
            '<div id=swagger-ui data-spec="/openapi.json"></div>'
            f'<script src="{static_url("vendor/swagger-ui-bundle.js")}"></script>'
            f'<script src="{static_url("api-docs.js")}"></script>',
        ),
        headers=_HEADERS,
    )


@router.get("/redoc")
def redoc() -> HTMLResponse:
    if not vendor_available("redoc.standalone.js"):
        return HTMLResponse(_MISSING, headers=_HEADERS)
    return HTMLResponse(
        _page(
            "modelyard API",
            "",
            '<redoc spec-url="/openapi.json"></redoc>'
            f'<script src="{static_url("vendor/redoc.standalone.js")}"></script>',
        ),
        headers=_HEADERS,
    )


@router.get(PROBLEMS_PATH)
def problem_types() -> HTMLResponse:
    return HTMLResponse(problems_page(), headers=_HEADERS)
