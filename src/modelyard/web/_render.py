"""Rendering: one Jinja2 environment (autoescape always on), filters, and the page response.

Every template is escaped, whatever its file name: user text (tags, job messages) is data,
never markup, and nothing here marks it ``|safe``; descriptions go through :func:`markdown`,
which renders CommonMark with raw HTML turned off. Responses carry a
Content-Security-Policy that allows scripts and styles from this server only, so even a
missed escape could not run an inline script.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

from modelyard import __version__
from modelyard.auth.schemas import Principal, Role
from modelyard.kit.time import utcnow
from modelyard.web._session import csrf_token_for, session_secret

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

NOTICES = {
    "created": "Created.",
    "deployment-stopped": "Deployment stopped; its records stay, and Restart evaluates it again.",
    "deployment-restarted": "Deployment restarted: it is evaluated from the target's next interval.",
    "report": "Report written: the links are below.",
    "target-started": "Target started: it is followed from its next interval.",
    "target-stopped": "Target stopped; its deployments wait for it.",
    "deleted": "Deleted.",
    "archived": "Archived.",
    "promoted": "Alias moved.",
    "saved": "Saved.",
    "logging": "Its predictions are logged to datasets from the next request on.",
    "not-logging": "Its predictions are no longer logged.",
}
"""Success messages a redirect names with ``?done=``: fixed text, never echoed from the URL."""

NAV: list[tuple[str, str]] = [("Models", "/models")]
"""Top navigation; sections append themselves when their domain is installed."""


def ago(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    seconds = (utcnow() - value).total_seconds()
    if seconds < 0:
        return value.strftime("%Y-%m-%d %H:%M")
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    if seconds < 86400 * 30:
        return f"{round(seconds / 86400)} d ago"
    return value.strftime("%Y-%m-%d")


def when(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.isoformat()


def fromtimestamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def filesize(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def number(value: Any, digits: int = 4) -> str:
    """A figure for people, the same as ``format`` in static/charts.js: thousands separators,
    whole numbers from 100 up, ``digits`` significant digits below, no exponent but for the
    tiny."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if abs(value) >= 100:
            return f"{round(value):,}"
        if value == 0 or abs(value) >= 1e-4:
            text = f"{value:.{digits}g}"
            return f"{float(text):f}".rstrip("0").rstrip(".") if "e" in text else text
        return f"{value:.{digits - 1}e}"
    return str(value)


@cache
def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    # CommonMark without raw HTML: tags in the text come out escaped, and markdown-it's own
    # link check drops javascript:, vbscript:, file: and data: (but image) URLs.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def markdown(value: str | None) -> Markup:
    """A description written in Markdown, as safe HTML."""
    if not value:
        return Markup("")
    return Markup(_markdown_parser().render(value))


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


@cache
def asset_version() -> str:
    """Changes when the app or the vendored libraries change, to bust browser caches."""
    stamp = STATIC_DIR / "vendor" / "VERSIONS"
    vendor = stamp.read_text().strip() if stamp.is_file() else ""
    mtimes = "".join(
        str(int(p.stat().st_mtime)) for p in sorted(STATIC_DIR.glob("*.*")) if p.is_file()
    )
    return hashlib.sha256(f"{__version__}{vendor}{mtimes}".encode()).hexdigest()[:10]


def static_url(path: str) -> str:
    return f"/static/{path}?v={asset_version()}"


@cache
def vendor_available(name: str) -> bool:
    return (STATIC_DIR / "vendor" / name).is_file()


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        ago=ago,
        when=when,
        iso=iso,
        filesize=filesize,
        fromtimestamp=fromtimestamp,
        number=number,
        pretty_json=pretty_json,
        duration=duration,
        markdown=markdown,
    )
    env.globals.update(
        asset_version=asset_version,
        static_url=static_url,
        vendor_available=vendor_available,
        nav=NAV,
        Role=Role,
    )
    return env


def is_htmx(request: Request) -> bool:
    """A partial-page request from htmx (history restores get the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
        and request.headers.get("hx-boosted") != "true"
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: Principal | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    secret = session_secret(request)
    values = {
        "request": request,
        "user": user,
        "can_edit": bool(user and user.can(Role.editor)),
        "is_admin": bool(user and user.can(Role.admin)),
        "csrf_token": csrf_token_for(secret) if (user and secret) else "",
        "path": request.url.path,
        "notice": NOTICES.get(request.query_params.get("done", "")),
        **(context or {}),
    }
    body = environment().get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Vary"] = "HX-Request"
    if headers:
        response.headers.update(headers)
    return response
