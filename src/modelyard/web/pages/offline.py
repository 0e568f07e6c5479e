"""The service worker (``/sw.js``, served from the root so that it may serve every page) and
the offline page it keeps for when the server cannot be reached."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelyard.web._render import SECURITY_HEADERS, STATIC_DIR, render

router = APIRouter()


@router.get("/sw.js")
def service_worker() -> Response:
    """Serve the service worker script."""
    return Response(
        (STATIC_DIR / "sw.js").read_bytes(),
        media_type="text/javascript",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/offline")
def offline(request: Request) -> Response:
    """Show the page the service worker keeps for when the server is unreachable."""
    return render(request, "offline.html")
