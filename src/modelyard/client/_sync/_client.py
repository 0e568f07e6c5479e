# Generated from ../_async/_client.py by scripts/unasync.py: edit that file, then run it.
"""``Client``: one server, every API group as an attribute."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from modelyard import __version__
from modelyard.client._config import resolve
from modelyard.client._retry import RetryPolicy
from modelyard.client._sync._http import Http, RetryTransport

if TYPE_CHECKING:
    from modelyard.client._sync._auth import Tokens, Users
    from modelyard.client._sync._datasets import Datasets
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
        self._http = Http(self._client, self.url)

    # Each group is built (and its schemas imported) on first use, so that a program or a CLI
    # command that needs one group does not pay for the others.

    @cached_property
    def models(self) -> Models:
        """Register, find, describe, tag and delete models."""
        from modelyard.client._sync._registry import Models

        return Models(self._http)

    @cached_property
    def versions(self) -> Versions:
        """Add versions (artifacts streamed), read, tag."""
        from modelyard.client._sync._registry import Versions

        return Versions(self._http)

    @cached_property
    def aliases(self) -> Aliases:
        """Point ``name@alias`` at a version."""
        from modelyard.client._sync._registry import Aliases

        return Aliases(self._http)

    @cached_property
    def artifacts(self) -> Artifacts:
        """Download a version's file, checked by SHA-256."""
        from modelyard.client._sync._registry import Artifacts

        return Artifacts(self._http)

    @cached_property
    def audit(self) -> Audit:
        """Who changed what."""
        from modelyard.client._sync._registry import Audit

        return Audit(self._http)

    @cached_property
    def datasets(self) -> Datasets:
        """Resumable uploads, listing, preview."""
        from modelyard.client._sync._datasets import Datasets

        return Datasets(self._http)

    @cached_property
    def jobs(self) -> Jobs:
        """Background jobs, followed live."""
        from modelyard.client._sync._jobs import Jobs

        return Jobs(self._http)

    @cached_property
    def evaluations(self) -> Evaluations:
        """Evaluate a version on a dataset, wait, compare."""
        from modelyard.client._sync._jobs import Evaluations

        return Evaluations(self._http, self.jobs)

    @cached_property
    def drift(self) -> Drift:
        """Data drift checks."""
        from modelyard.client._sync._jobs import Drift

        return Drift(self._http, self.jobs)

    @cached_property
    def reports(self) -> Reports:
        """The weekly report and report files."""
        from modelyard.client._sync._jobs import Reports

        return Reports(self._http)

    @cached_property
    def targets(self) -> Targets:
        """Live targets; pushed metrics."""
        from modelyard.client._sync._live import Targets

        return Targets(self._http)

    @cached_property
    def deployments(self) -> Deployments:
        """Models run against live targets."""
        from modelyard.client._sync._live import Deployments

        return Deployments(self._http)

    @cached_property
    def alerts(self) -> Alerts:
        """Alert events, rules, channels."""
        from modelyard.client._sync._live import Alerts

        return Alerts(self._http)

    @cached_property
    def analytics(self) -> Analytics:
        """Leaderboards."""
        from modelyard.client._sync._live import Analytics

        return Analytics(self._http)

    @cached_property
    def users(self) -> Users:
        """Accounts."""
        from modelyard.client._sync._auth import Users

        return Users(self._http)

    @cached_property
    def tokens(self) -> Tokens:
        """API tokens."""
        from modelyard.client._sync._auth import Tokens

        return Tokens(self._http)

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
