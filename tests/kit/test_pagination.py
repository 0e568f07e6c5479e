"""The id cursor helpers: round trip, first page, malformed cursors and page cutting."""

from __future__ import annotations

import pytest

from modelyard.kit.errors import BadRequest
from modelyard.kit.pagination import (
    decode_id_cursor,
    encode_cursor,
    encode_id_cursor,
    id_page,
)


def test_id_cursor_round_trips() -> None:
    for value in (0, 1, 17, 2**40):
        assert decode_id_cursor(encode_id_cursor(value)) == value


def test_no_cursor_is_first_page() -> None:
    assert decode_id_cursor(None) is None
    assert decode_id_cursor("") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !!",
        encode_cursor(["7"]),
        encode_cursor([True]),
        encode_cursor([1.5]),
        encode_cursor([1, 2]),
        encode_cursor([]),
        "eyJhIjoxfQ",  # {"a":1}: JSON, but not a list
    ],
)
def test_malformed_cursor_is_bad_request(cursor: str) -> None:
    with pytest.raises(BadRequest, match="cursor"):
        decode_id_cursor(cursor)


def test_id_page_cuts_and_points_at_last_row() -> None:
    rows = [{"id": i} for i in (9, 8, 7, 6)]
    page, cursor = id_page(rows, 3, lambda r: r["id"])
    assert page == rows[:3]
    assert cursor is not None and decode_id_cursor(cursor) == 7
    page, cursor = id_page(rows, 4, lambda r: r["id"])
    assert page == rows and cursor is None
