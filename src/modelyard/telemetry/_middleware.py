"""Request timing by route template, as plain ASGI (no BaseHTTPMiddleware overhead)."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.telemetry._metrics import IN_FLIGHT, REQUEST_SECONDS, REQUESTS


def route_template(scope: Scope) -> str:
    """The matched route's template with its router prefix (``/api/models/{name}``).

    FastAPI leaves the route of an included router in ``scope["route"]`` without the prefix;
    prefixes are static, so they are the leading segments of the path that the route's own
    segments do not account for.
    """
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return "unmatched"
    actual = scope.get("path", "").rstrip("/").split("/")
    own = path.rstrip("/").split("/")
    if len(actual) < len(own) or ":path}" in path:
        return str(path)
    prefix = "/".join(actual[: len(actual) - len(own) + 1])
    return prefix + path if prefix else str(path)


class PrometheusMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            IN_FLIGHT.dec()
            template = route_template(scope)
            method = scope.get("method", "GET")
            REQUEST_SECONDS.labels(method, template).observe(time.perf_counter() - start)
            REQUESTS.labels(method, template, str(status)).inc()
