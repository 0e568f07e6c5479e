"""The ``type`` of every problem the API answers with: one table, served at ``/problems``.

A problem's ``type`` is ``/problems#<slug>``, a URI reference that names the error and
resolves, against the server's own URL, to this table rendered as a page. Clients branch on
``type`` (or ``status``); ``detail`` is the sentence for people. The README carries the same
table (a test keeps the two in step).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["PROBLEMS_PATH", "PROBLEM_TYPES", "ProblemType", "page", "type_uri"]

PROBLEMS_PATH = "/problems"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    meaning: str


PROBLEM_TYPES: tuple[ProblemType, ...] = (
    ProblemType(
        "bad-request",
        400,
        "Bad request",
        "A value the service refuses (an unknown flavor, a file that is not a table, a cursor that was edited); the detail says which and why.",
    ),
    ProblemType(
        "unstorable-value",
        400,
        "Bad request",
        "A value the database cannot store: too long, out of range, or with a NUL character.",
    ),
    ProblemType(
        "not-authenticated",
        401,
        "Not authenticated",
        "No credentials, or a token or session that is wrong, expired or revoked.",
    ),
    ProblemType(
        "forbidden",
        403,
        "Forbidden",
        "The caller's role is too low, or the object is someone else's.",
    ),
    ProblemType(
        "not-found",
        404,
        "Not found",
        "No object of the name or id given in the path, query or body.",
    ),
    ProblemType(
        "no-such-endpoint", 404, "Not Found", "No route has this path; /docs lists the API."
    ),
    ProblemType(
        "method-not-allowed",
        405,
        "Method Not Allowed",
        "The path exists but not for this method; the Allow header lists those that do.",
    ),
    ProblemType(
        "conflict",
        409,
        "Conflict",
        "The request conflicts with what is stored: a name taken, an object in the wrong state, a protected alias.",
    ),
    ProblemType(
        "payload-too-large",
        413,
        "Payload too large",
        "The body is over the limit for this route, or an uploaded file would unpack past a limit (rows, decompressed bytes, archive members, metadata); the detail names the setting.",
    ),
    ProblemType(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "The body's Content-Type is not one this route reads.",
    ),
    ProblemType(
        "invalid-request",
        422,
        "Invalid request",
        "The request does not match the schema; `errors` lists each field and what is wrong with it.",
    ),
    ProblemType(
        "unprocessable",
        422,
        "Unprocessable content",
        "Well-formed, but the service cannot act on it (a job kind or priority it does not know, a dataset without the column named).",
    ),
    ProblemType(
        "too-many-requests",
        429,
        "Too many requests",
        "Too many attempts (failed logins, event streams); wait for Retry-After seconds.",
    ),
    ProblemType(
        "missing-extra",
        501,
        "Not installed",
        "The request needs an optional part that this installation lacks; the detail names the extra to install (`pip install 'modelyard[sklearn]'`).",
    ),
    ProblemType(
        "service-unavailable",
        503,
        "Service unavailable",
        "A dependency (the database, the queue, the object store) is unreachable or busy; retry after Retry-After seconds.",
    ),
    ProblemType(
        "insufficient-storage",
        507,
        "Insufficient storage",
        "The server's disk or quota is full; nothing of the request was kept.",
    ),
    ProblemType(
        "http-error",
        0,
        "(the status's phrase)",
        "Any other HTTP error, with the status's standard meaning.",
    ),
)

_BY_SLUG = {problem.slug: problem for problem in PROBLEM_TYPES}


def type_uri(slug: str) -> str:
    """The ``type`` member for ``slug`` (which must be in the table)."""
    if slug not in _BY_SLUG:
        raise KeyError(f"no problem type {slug!r} in modelyard.kit.problem_types")
    return f"{PROBLEMS_PATH}#{slug}"


def page() -> str:
    """The table as a standalone HTML page (what ``/problems`` serves)."""
    rows = "\n".join(
        f'<tr id="{p.slug}"><td><code>{p.slug}</code></td><td>{p.status or ""}</td>'
        f"<td>{html.escape(p.title)}</td><td>{html.escape(p.meaning)}</td></tr>"
        for p in PROBLEM_TYPES
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>modelyard problem types</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:70rem}"
        "td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left;"
        "vertical-align:top}:target{background:#ffc}</style>"
        "<h1>Problem types</h1><p>Every error of the API is an <code>application/problem+json"
        "</code> document whose <code>type</code> is <code>/problems#slug</code>:</p>"
        f"<table><tr><th>type</th><th>status</th><th>title</th><th>meaning</th></tr>{rows}"
        "</table></html>"
    )
