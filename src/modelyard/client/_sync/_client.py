# Generated from ../_async/_client.py by scripts/unasync.py: edit that file, then run it.
"""``Client``: one server, every API group as an attribute."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from modelyard import __version__
from modelyard.client._config import resolve
from modelyard.client._retry import RetryPolicy
from modelyard.client._sync._auth import Tokens, Users
from modelyard.client._sync._datasets import Datasets
from modelyard.client._sync._http import Http, RetryTransport
from modelyard.client._sync._jobs import Drift, Evaluations, Jobs, Reports
from modelyard.client._sync._live import (
    Alerts,
    Analytics,
    Deployments,
    Targets,
)
from modelyard.client._sync._registry import (
    Aliases,
    Artifacts,
    Audit,
    Models,
    Versions,
)


class Client:
    """A modelyard server's API: ``client.models``, ``client.versions``, ``client.aliases``,
    ``client.artifacts``, ``client.datasets``, ``client.evaluations``, ``client.jobs``,
    ``client.drift``, ``client.targets``, ``client.deployments``, ``client.alerts``,
    ``client.reports``, ``client.analytics``, ``client.audit``, ``client.users``,
    ``client.tokens``.

    ``url`` and ``token`` default to ``MODELYARD_URL`` / ``MODELYARD_TOKEN`` or a profile of
    ``~/.config/modelyard/config.toml`` (see :mod:`modelyard.client._config`). Methods return
    the server's own schemas; a problem answer raises :class:`~modelyard.client.ApiError`.
    ``transport`` replaces httpx's network transport (a test's, or a proxy's).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.connection = resolve(url, token, profile)
        self.url = self.connection.url
        sent = {"User-Agent": f"modelyard-client/{__version__}", **(headers or {})}
        if self.connection.token:
            sent["Authorization"] = f"Bearer {self.connection.token}"
        self._client = httpx.Client(
            base_url=self.url,
            headers=sent,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=RetryTransport(transport or httpx.HTTPTransport(), retry or RetryPolicy()),
        )
        http = Http(self._client, self.url)
        self.models = Models(http)
        self.versions = Versions(http)
        self.aliases = Aliases(http)
        self.artifacts = Artifacts(http)
        self.audit = Audit(http)
        self.datasets = Datasets(http)
        self.jobs = Jobs(http)
        self.evaluations = Evaluations(http, self.jobs)
        self.drift = Drift(http, self.jobs)
        self.reports = Reports(http)
        self.targets = Targets(http)
        self.deployments = Deployments(http)
        self.alerts = Alerts(http)
        self.analytics = Analytics(http)
        self.users = Users(http)
        self.tokens = Tokens(http)
        self._http = http

    def health(self) -> dict[str, Any]:
        """The server's ``/healthz``: ``{"status": "ok", "version": ...}``."""
        result: dict[str, Any] = self._http.call_json("GET", "/healthz")
        return result

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
