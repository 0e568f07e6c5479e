"""The registry of job kinds: what ``@job_kind`` records at import time.

A kind is a plain function ``(ctx, params) -> result`` plus the rules the job layer applies
around it: the least role that may submit it, whether a failure is retried automatically and
how often, and a time limit. The registry is process-wide; a test may register its own kind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from modelyard.auth.schemas import Role

if TYPE_CHECKING:
    from modelyard.jobs.context import JobContext

JobFunction = Callable[["JobContext", dict[str, Any]], Any]

KIND_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"


@dataclass(frozen=True)
class JobKind:
    name: str
    func: JobFunction
    min_role: Role = Role.editor
    retryable: bool = False
    max_retries: int = 0
    timeout_seconds: float | None = None
    params_model: type[BaseModel] | None = None
    description: str = ""

    @property
    def automatic_retries(self) -> int:
        return self.max_retries if self.retryable else 0


_kinds: dict[str, JobKind] = {}
_lock = threading.Lock()


def job_kind(
    name: str,
    *,
    min_role: Role = Role.editor,
    retryable: bool = False,
    max_retries: int = 0,
    timeout_seconds: float | None = None,
    params_model: type[BaseModel] | None = None,
    description: str | None = None,
) -> Callable[[JobFunction], JobFunction]:
    """Register ``func`` as the job kind ``name``; the function is returned unchanged.

    ``params_model``, when given, validates the parameters at submission (a bad request is
    a 422 naming the field) and the function receives the validated, dumped dict.
    Registering a name twice replaces the first registration only if it comes from the same
    module and function name (a re-import); otherwise it is an error.
    """
    import re

    if not re.fullmatch(KIND_PATTERN, name):
        raise ValueError(f"job kind {name!r} must match {KIND_PATTERN}")
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    if timeout_seconds is not None and timeout_seconds <= 0:
        raise ValueError("timeout_seconds must be positive")

    def register(func: JobFunction) -> JobFunction:
        doc = description if description is not None else (func.__doc__ or "").strip()
        kind = JobKind(
            name=name,
            func=func,
            min_role=min_role,
            retryable=retryable,
            max_retries=max_retries,
            timeout_seconds=timeout_seconds,
            params_model=params_model,
            description=doc.splitlines()[0] if doc else "",
        )
        with _lock:
            existing = _kinds.get(name)
            if existing is not None and (
                existing.func.__module__,
                existing.func.__qualname__,
            ) != (func.__module__, func.__qualname__):
                raise ValueError(
                    f"job kind {name!r} is already registered by "
                    f"{existing.func.__module__}.{existing.func.__qualname__}"
                )
            _kinds[name] = kind
        return func

    return register


def get_kind(name: str) -> JobKind | None:
    return _kinds.get(name)


def all_kinds() -> list[JobKind]:
    return sorted(_kinds.values(), key=lambda k: k.name)


def unregister(name: str) -> None:
    """Forget a kind (tests that register throwaway kinds)."""
    with _lock:
        _kinds.pop(name, None)
