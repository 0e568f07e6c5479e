"""The client's exceptions: one type for every problem the server answers with.

:class:`ApiError` is a problem response (RFC 9457 ``application/problem+json``): its
``status``, ``title``, ``detail`` (a sentence saying what is wrong), ``type`` (a URI naming
the error, see ``/problems``) and, for invalid input, ``errors`` (one per field).
:class:`ConnectionFailed` is a server that could not be reached or did not finish answering,
after the retries. Both derive from :class:`ModelyardError`, which is also raised for a
client that is not configured (no URL) or a server that does not speak the API.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

__all__ = ["ApiError", "ConnectionFailed", "FieldError", "ModelyardError", "UploadFailed"]


class ModelyardError(Exception):
    """Anything the client cannot do; ``str()`` is one sentence for a person."""


class ConnectionFailed(ModelyardError):
    """The server could not be reached, or the connection broke before it answered."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class UploadFailed(ModelyardError):
    """A dataset upload stopped; ``upload_id`` resumes it (``datasets.upload(..., resume=...)``)."""

    def __init__(self, message: str, upload_id: str) -> None:
        super().__init__(message)
        self.upload_id = upload_id


class FieldError:
    """One wrong input field of a 422 problem: ``field`` as a dotted path, and ``message``."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"FieldError({self.field!r}, {self.message!r})"


class ApiError(ModelyardError):
    """The server answered with a problem: 4xx (the request) or 5xx (the server)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str = "about:blank",
        errors: list[FieldError] | None = None,
        retry_after: float | None = None,
        method: str = "",
        url: str = "",
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.errors = errors or []
        self.retry_after = retry_after
        self.method = method
        self.url = url
        self.body = body or {}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.title!r}, {self.detail!r})"

    @classmethod
    def from_body(
        cls,
        status: int,
        body: object,
        *,
        method: str,
        url: str,
        retry_after: float | None = None,
    ) -> ApiError:
        """From a response's status and parsed JSON body (a problem document or anything else)."""
        phrase = HTTPStatus(status).phrase if status in _STATUSES else "Error"
        if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
            return cls(
                status,
                phrase,
                f"{method} {url} answered {status} {phrase} without a problem document; "
                "is the URL that of a modelyard server?",
                method=method,
                url=url,
                retry_after=retry_after,
            )
        errors = [
            FieldError(str(item.get("field", "")), str(item.get("message", "")))
            for item in body.get("errors") or []
            if isinstance(item, dict)
        ]
        return cls(
            status,
            str(body.get("title") or phrase),
            body["detail"],
            type=str(body.get("type") or "about:blank"),
            errors=errors,
            retry_after=retry_after,
            method=method,
            url=url,
            body=body,
        )


_STATUSES = {status.value for status in HTTPStatus}
