"""``AsyncClient``: one server, every API group as an attribute."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from modelyard import __version__
from modelyard.client._async._http import AsyncHttp, AsyncRetryTransport
from modelyard.client._config import resolve
from modelyard.client._retry import RetryPolicy

if TYPE_CHECKING:
    from modelyard.client._async._auth import AsyncTokens, AsyncUsers
    from modelyard.client._async._datasets import AsyncDatasets
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
        self._http = AsyncHttp(self._client, self.url)

    # Each group is built (and its schemas imported) on first use, so that a program or a CLI
    # command that needs one group does not pay for the others.

    @cached_property
    def models(self) -> AsyncModels:
        """Register, find, describe, tag and delete models."""
        from modelyard.client._async._registry import AsyncModels

        return AsyncModels(self._http)

    @cached_property
    def versions(self) -> AsyncVersions:
        """Add versions (artifacts streamed), read, tag."""
        from modelyard.client._async._registry import AsyncVersions

        return AsyncVersions(self._http)

    @cached_property
    def aliases(self) -> AsyncAliases:
        """Point ``name@alias`` at a version."""
        from modelyard.client._async._registry import AsyncAliases

        return AsyncAliases(self._http)

    @cached_property
    def artifacts(self) -> AsyncArtifacts:
        """Download a version's file, checked by SHA-256."""
        from modelyard.client._async._registry import AsyncArtifacts

        return AsyncArtifacts(self._http)

    @cached_property
    def audit(self) -> AsyncAudit:
        """Who changed what."""
        from modelyard.client._async._registry import AsyncAudit

        return AsyncAudit(self._http)

    @cached_property
    def datasets(self) -> AsyncDatasets:
        """Resumable uploads, listing, preview."""
        from modelyard.client._async._datasets import AsyncDatasets

        return AsyncDatasets(self._http)

    @cached_property
    def jobs(self) -> AsyncJobs:
        """Background jobs, followed live."""
        from modelyard.client._async._jobs import AsyncJobs

        return AsyncJobs(self._http)

    @cached_property
    def evaluations(self) -> AsyncEvaluations:
        """Evaluate a version on a dataset, wait, compare."""
        from modelyard.client._async._jobs import AsyncEvaluations

        return AsyncEvaluations(self._http, self.jobs)

    @cached_property
    def drift(self) -> AsyncDrift:
        """Data drift checks."""
        from modelyard.client._async._jobs import AsyncDrift

        return AsyncDrift(self._http, self.jobs)

    @cached_property
    def reports(self) -> AsyncReports:
        """The weekly report and report files."""
        from modelyard.client._async._jobs import AsyncReports

        return AsyncReports(self._http)

    @cached_property
    def targets(self) -> AsyncTargets:
        """Live targets; pushed metrics."""
        from modelyard.client._async._live import AsyncTargets

        return AsyncTargets(self._http)

    @cached_property
    def deployments(self) -> AsyncDeployments:
        """Models run against live targets."""
        from modelyard.client._async._live import AsyncDeployments

        return AsyncDeployments(self._http)

    @cached_property
    def alerts(self) -> AsyncAlerts:
        """Alert events, rules, channels."""
        from modelyard.client._async._live import AsyncAlerts

        return AsyncAlerts(self._http)

    @cached_property
    def analytics(self) -> AsyncAnalytics:
        """Leaderboards."""
        from modelyard.client._async._live import AsyncAnalytics

        return AsyncAnalytics(self._http)

    @cached_property
    def users(self) -> AsyncUsers:
        """Accounts."""
        from modelyard.client._async._auth import AsyncUsers

        return AsyncUsers(self._http)

    @cached_property
    def tokens(self) -> AsyncTokens:
        """API tokens."""
        from modelyard.client._async._auth import AsyncTokens

        return AsyncTokens(self._http)

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
