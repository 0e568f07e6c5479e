"""How a failed command ends: one sentence on stderr and an exit code.

| code | meaning |
|---|---|
| 0 | done (a followed job or evaluation succeeded) |
| 1 | the server refused the request (4xx not below), or the job, evaluation or check failed |
| 2 | a usage error: an unknown option, a missing argument, a bad profile or URL |
| 3 | the followed job, evaluation or check was cancelled |
| 4 | not authenticated or not allowed (401, 403): a missing, wrong or expired token, a role too low |
| 5 | not found (404): no such model, version, dataset, job ... |
| 6 | nothing to talk to: the server cannot be reached or is not a modelyard server, or there is no database |
| 7 | the server failed (5xx) |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

OK, REFUSED, USAGE, CANCELLED, DENIED, NOT_FOUND, UNREACHABLE, SERVER, INTERRUPTED = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    130,
)


class CommandFailed(Exception):
    """A failure a command states itself: ``message`` and an exit ``code``."""

    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _exit_for(exc: BaseException) -> typer.Exit | None:
    if isinstance(exc, CommandFailed):
        return fail(str(exc), exc.code)
    # Imported only when there is an error to name: the client may not even be loaded.
    client = sys.modules.get("modelyard.client._errors")
    if client is not None:
        if isinstance(exc, client.ApiError):
            if not exc.body and exc.status in (404, 405):
                return fail(str(exc), UNREACHABLE)
            code = (
                DENIED
                if exc.status in (401, 403)
                else NOT_FOUND
                if exc.status == 404
                else SERVER
                if exc.status >= 500
                else REFUSED
            )
            return fail(str(exc), code)
        if isinstance(exc, client.ConnectionFailed):
            return fail(str(exc), UNREACHABLE)
        if isinstance(exc, client.ModelyardError):
            return fail(str(exc), REFUSED)
    return None


@contextmanager
def handled() -> Iterator[None]:
    """Turn the errors a command may meet into :func:`fail`; anything else is a bug and
    keeps its traceback."""
    try:
        yield
    except KeyboardInterrupt:
        raise fail("interrupted.", INTERRUPTED) from None
    except Exception as exc:
        exit_ = _exit_for(exc)
        if exit_ is None:
            raise
        raise exit_ from None
