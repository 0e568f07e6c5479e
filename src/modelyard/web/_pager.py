"""Previous / next links for lists that page with opaque cursors.

A cursor only says where the *next* page starts, so going back needs the cursors of the
pages already seen. The page URL carries them: ``cursor`` is where this page starts and
``back`` is the stack of earlier pages' cursors, joined by ``.`` (cursors are base64url, so
they never contain one) with ``~`` standing for the first page. "Next" pushes the current
cursor; "Previous" pops one. The stack keeps the last :data:`MAX_BACK` pages so URLs stay
short; past that, "Previous" from the oldest remembered page goes to the first page.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

FIRST = "~"
MAX_BACK = 20
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,1000}$")


def parse_back(back: str) -> list[str]:
    """The stack from the query string; anything that is not a cursor is dropped."""
    return [part for part in back.split(".") if part == FIRST or _CURSOR.match(part)][-MAX_BACK:]


def _url(base: str, query: dict[str, str]) -> str:
    return base + ("?" + urlencode(query) if query else "")


def pager(
    base: str,
    filters: dict[str, str],
    *,
    cursor: str | None,
    back: str,
    next_cursor: str | None,
) -> dict[str, Any]:
    """``paged``, ``first_url``, ``prev_url`` and ``next_url`` for a list template."""
    cursor = cursor or None
    stack = parse_back(back) if cursor else []
    next_url = None
    if next_cursor:
        pushed = [*stack, cursor or FIRST][-MAX_BACK:]
        next_url = _url(base, {**filters, "cursor": next_cursor, "back": ".".join(pushed)})
    prev_url = None
    if cursor:
        previous = stack[-1] if stack else FIRST
        rest = stack[:-1]
        query = dict(filters)
        if previous != FIRST:
            query["cursor"] = previous
            if rest:
                query["back"] = ".".join(rest)
        prev_url = _url(base, query)
    return {
        "paged": cursor is not None,
        "first_url": _url(base, filters),
        "prev_url": prev_url,
        "next_url": next_url,
    }
