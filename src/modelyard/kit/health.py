"""``/health/live`` and ``/health/ready``: the probes of an orchestrator or a load balancer.

Live says the process answers (restart it when it does not). Ready says whether it can do
its work now: every dependency registered on the app's :class:`Readiness` (the lifespan adds
the database, Redis when configured, and whatever store the app uses) is checked at once,
each within ``CHECK_SECONDS``; a 503 problem names each one that is missing and why, so
traffic goes elsewhere until it is back. Neither needs a token, and neither says more than
the name of a dependency and the error it gave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from modelyard.kit.backoff import describe_error
from modelyard.kit.errors import ServiceUnavailable
from modelyard.kit.openapi import problems

CHECK_SECONDS = 3.0
RETRY_AFTER_SECONDS = 5

Check = Callable[[], object]
"""Blocking; raises when the dependency cannot be used. Run in a thread, with a timeout."""


class Readiness:
    """The named dependency checks of one app (or worker)."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self, timeout: float = CHECK_SECONDS) -> dict[str, str | None]:
        """Each dependency's error (``None`` when it is usable), checked concurrently."""

        async def one(check: Check) -> str | None:
            try:
                await asyncio.wait_for(asyncio.to_thread(check), timeout)
            except TimeoutError:
                return f"no answer within {timeout:g} s"
            except Exception as exc:
                return describe_error(exc)
            return None

        names = list(self._checks)
        results = await asyncio.gather(*(one(self._checks[name]) for name in names))
        return dict(zip(names, results, strict=True))


class Liveness(BaseModel):
    status: str = Field(examples=["alive"], description="`alive` whenever the process answers.")


class ReadinessOut(BaseModel):
    status: str = Field(
        examples=["ready"], description="`ready`, or `unavailable` (a 503) when a check failed."
    )
    checks: dict[str, str] = Field(
        description="Each dependency and `ok`, or the error it gave.",
        examples=[{"database": "ok", "redis": "ok"}],
    )
    seconds: float = Field(description="How long the checks took.")


router = APIRouter(prefix="/health", tags=["meta"])


@router.get("/live", response_model=Liveness)
async def live() -> Liveness:
    """Report that the process answers."""
    return Liveness(status="alive")


@router.get("/ready", response_model=ReadinessOut, responses=problems(503))
async def ready(request: Request) -> Response | ReadinessOut:
    """Check every dependency; 503 naming those that are missing."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    if readiness is None:
        raise ServiceUnavailable(
            "Not ready: the server is still starting.", retry_after=RETRY_AFTER_SECONDS
        )
    started = time.perf_counter()
    results = await readiness.run()
    checks = {name: error or "ok" for name, error in results.items()}
    missing = [f"{name} ({error})" for name, error in results.items() if error]
    if missing:
        raise ServiceUnavailable(
            "Not ready: " + "; ".join(missing) + ".",
            retry_after=RETRY_AFTER_SECONDS,
            extra={"checks": checks},
        )
    return ReadinessOut(
        status="ready", checks=checks, seconds=round(time.perf_counter() - started, 4)
    )
