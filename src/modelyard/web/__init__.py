"""The web UI: server-rendered pages (Jinja2), htmx for partial updates, uPlot for charts.

:func:`mount` adds the page routes, ``/static`` and the error handling of pages to an app:
an expired session on a page redirects to the login page, and errors on a page are HTML
(a full page, or a message fragment for htmx) while ``/api`` keeps problem+json. Pages call
the domains' services, never their repositories, and read without JavaScript; forms that
change state are POSTs with a CSRF token (see :mod:`modelyard.web._session`).
"""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.web._errors import install_page_errors
from modelyard.web._render import STATIC_DIR, asset_version
from modelyard.web._routes import router
from modelyard.web._static import CachedStaticFiles


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(
        "/static", CachedStaticFiles(directory=STATIC_DIR, version=asset_version()), name="static"
    )
    install_page_errors(app)


__all__ = ["mount"]
