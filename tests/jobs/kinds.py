"""Job kinds for the job tests; imported by the tests and by ``modelyard worker --import``."""

from __future__ import annotations

import time
from typing import Any

from modelyard.auth.schemas import Role
from modelyard.jobs import JobContext, job_kind


@job_kind("test.echo", min_role=Role.viewer)
def echo(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters (any user may run it)."""
    return {"params": params, "attempt": ctx.attempt, "actor": ctx.actor}


@job_kind("test.loop", min_role=Role.editor)
def loop(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Report progress every ``delay`` seconds, ``steps`` times (long by default)."""
    steps = int(params.get("steps", 100_000))
    delay = float(params.get("delay", 0.02))
    for step in range(1, steps + 1):
        ctx.wait(delay)
        ctx.progress(step / steps, phase="loop", message=f"{step}/{steps}")
    return {"steps": steps}


@job_kind("test.slow_retryable", retryable=True, max_retries=1)
def slow_retryable(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Run long on the first attempt (to be killed), quickly afterwards."""
    seconds = float(params.get("seconds", 60)) if ctx.attempt == 1 else 0.0
    ctx.wait(seconds)
    return {"attempt": ctx.attempt}


@job_kind("test.slow_fragile", retryable=False)
def slow_fragile(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Run long; not retried if its worker dies."""
    ctx.wait(float(params.get("seconds", 60)))
    return {"attempt": ctx.attempt}


@job_kind("test.timeout", timeout_seconds=0.3)
def times_out(ctx: JobContext, params: dict[str, Any]) -> None:
    """Check in until the time limit stops it."""
    while True:
        ctx.wait(0.02)


@job_kind("test.bad_result")
def bad_result(ctx: JobContext, params: dict[str, Any]) -> Any:
    """Return something that is not JSON."""
    return {1, 2, 3}


@job_kind("test.swallow", retryable=False)
def swallow(ctx: JobContext, params: dict[str, Any]) -> str:
    """Catch the cancellation and return anyway: the job still ends cancelled."""
    try:
        while True:
            ctx.wait(0.02)
    except Exception:
        return "ignored the cancel"


@job_kind("test.blocking", retryable=False)
def blocking(ctx: JobContext, params: dict[str, Any]) -> str:
    """Block without checkpoints for ``seconds``."""
    time.sleep(float(params.get("seconds", 1.0)))
    return "done"
