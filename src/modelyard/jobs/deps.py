"""The app's job runtime as a dependency: ``jobs: Jobs`` in an endpoint's signature.

The runtime is created by the app's lifespan (``app.state.jobs``); handing it to
``jobs.service.submit`` (or a domain service that submits) is how a job reaches this app's
queue and events.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from modelyard.jobs.runtime import JobRuntime

__all__ = ["Jobs", "get_jobs"]


async def get_jobs(request: Request) -> JobRuntime:
    runtime: JobRuntime = request.app.state.jobs
    return runtime


Jobs = Annotated[JobRuntime, Depends(get_jobs)]
