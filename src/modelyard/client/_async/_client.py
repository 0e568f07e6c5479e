"""``AsyncClient``: one server, every API group as an attribute."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from modelyard import __version__
from modelyard.client._async._auth import AsyncTokens, AsyncUsers
from modelyard.client._async._datasets import AsyncDatasets
from modelyard.client._async._http import AsyncHttp, AsyncRetryTransport
from modelyard.client._async._jobs import AsyncDrift, AsyncEvaluations, AsyncJobs, AsyncReports
from modelyard.client._async._live import (
    AsyncAlerts,
    AsyncAnalytics,
    AsyncDeployments,
    AsyncTargets,
)
from modelyard.client._async._registry import (
    AsyncAliases,
    AsyncArtifacts,
    AsyncAudit,
    AsyncModels,
    AsyncVersions,
)
from modelyard.client._config import resolve
from modelyard.client._retry import RetryPolicy


class AsyncClient:
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
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.connection = resolve(url, token, profile)
        self.url = self.connection.url
        sent = {"User-Agent": f"modelyard-client/{__version__}", **(headers or {})}
        if self.connection.token:
            sent["Authorization"] = f"Bearer {self.connection.token}"
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=sent,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=AsyncRetryTransport(
                transport or httpx.AsyncHTTPTransport(), retry or RetryPolicy()
            ),
        )
        http = AsyncHttp(self._client, self.url)
        self.models = AsyncModels(http)
        self.versions = AsyncVersions(http)
        self.aliases = AsyncAliases(http)
        self.artifacts = AsyncArtifacts(http)
        self.audit = AsyncAudit(http)
        self.datasets = AsyncDatasets(http)
        self.jobs = AsyncJobs(http)
        self.evaluations = AsyncEvaluations(http, self.jobs)
        self.drift = AsyncDrift(http, self.jobs)
        self.reports = AsyncReports(http)
        self.targets = AsyncTargets(http)
        self.deployments = AsyncDeployments(http)
        self.alerts = AsyncAlerts(http)
        self.analytics = AsyncAnalytics(http)
        self.users = AsyncUsers(http)
        self.tokens = AsyncTokens(http)
        self._http = http

    async def health(self) -> dict[str, Any]:
        """The server's ``/healthz``: ``{"status": "ok", "version": ...}``."""
        result: dict[str, Any] = await self._http.call_json("GET", "/healthz")
        return result

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
