"""Opaque keyset cursors: the last row's sort value and id, base64-encoded JSON.

:func:`encode_cursor` and :func:`decode_cursor` carry any list of JSON values (the model
search pages by a sort value and an id). Most lists page newest first by one integer id;
:func:`decode_id_cursor` and :func:`id_page` are that case, so each list endpoint reads
"rows with an id below the cursor" and cuts its page the same way.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from modelyard.kit.errors import BadRequest

RowT = TypeVar("RowT")

_INVALID = "The cursor is not valid; pass the `next_cursor` of a previous page unchanged."


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadRequest(_INVALID) from exc
    if not isinstance(values, list):
        raise BadRequest(_INVALID)
    return values


def encode_id_cursor(last_id: int) -> str:
    return encode_cursor([last_id])


def decode_id_cursor(cursor: str | None) -> int | None:
    """The id the next page starts below, or ``None`` for the first page.

    A cursor that is not one integer (another list's cursor, an edited one) is a 400
    problem rather than an empty page, so a client bug shows at once.
    """
    if not cursor:
        return None
    values = decode_cursor(cursor)
    # bool is an int subclass; `true` is not an id.
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise BadRequest(_INVALID)
    return values[0]


def _id_attribute(row: Any) -> int:
    return int(row.id)


def id_page(
    rows: Sequence[RowT], limit: int, id_of: Callable[[RowT], int] = _id_attribute
) -> tuple[list[RowT], str | None]:
    """Cut ``limit + 1`` fetched rows to a page and the cursor of the next one (``None`` at the end)."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, encode_id_cursor(id_of(page[-1]))
