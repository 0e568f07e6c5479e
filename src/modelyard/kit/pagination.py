"""Opaque keyset cursors: the last row's sort value and id, base64-encoded JSON."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from modelyard.kit.errors import BadRequest


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadRequest(
            "The cursor is not valid; pass the `next_cursor` of a previous page unchanged."
        ) from exc
    if not isinstance(values, list):
        raise BadRequest("The cursor is not valid; pass the `next_cursor` of a previous page.")
    return values
