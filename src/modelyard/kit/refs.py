"""Every reference a client sends, parsed here and nowhere else.

An object is named by its id or its name (``12`` or ``sales``): :func:`id_or_name` takes a
string of ASCII digits within the id range as an id and anything else as a name, so ``¹``,
``٣`` or a 20-digit number never reach ``int()`` or the database as an id. A model version is
``name``, ``name/3``, ``name/latest`` or ``name@alias`` (:func:`model_reference`); a version
number on its own goes through :func:`version_number`. A number out of range is an object
that cannot exist (404), a malformed model reference a 400 that shows the accepted forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.kit.errors import BadRequest, NotFound
from modelyard.kit.names import ALIAS_PATTERN, NAME_PATTERN

MAX_ID = 2**62
"""Ids and version numbers fit SQLite's and PostgreSQL's signed 64-bit integers with room."""
MAX_VERSION = 999_999_999

_DIGITS = re.compile(r"[0-9]+")
_MODEL_REFERENCE = re.compile(
    rf"(?P<name>{NAME_PATTERN})(?:@(?P<alias>{ALIAS_PATTERN})|/(?P<version>latest|[0-9]+))?"
)


def ascii_int(text: str) -> int | None:
    """``text`` as an int when it is ASCII digits only (no sign, space, ``¹`` or ``٣``)."""
    return int(text) if _DIGITS.fullmatch(text) else None


def object_id(value: int | str, *, what: str, listing: str) -> int:
    """An id within range, else the 404 that an id no row can have deserves."""
    number = value if isinstance(value, int) else ascii_int(value)
    if number is None or not 1 <= number <= MAX_ID:
        raise NotFound(f"No {what} with id {value}; list them with {listing}.")
    return number


def id_or_name(ref: int | str, *, what: str, listing: str) -> int | str:
    """An id (``int``) when ``ref`` is ASCII digits, else the name (``str``).

    A number past the id range raises :class:`NotFound` naming ``what`` and the ``listing``
    that shows what exists.
    """
    if isinstance(ref, int) or _DIGITS.fullmatch(ref):
        return object_id(ref, what=what, listing=listing)
    return ref


@dataclass(frozen=True)
class ModelReference:
    name: str
    version: int | None = None
    """A version number; ``None`` with no ``alias`` means the latest version."""
    alias: str | None = None

    @property
    def selector(self) -> str | None:
        """``"@alias"``, ``"3"`` or ``None`` (latest)."""
        if self.alias is not None:
            return "@" + self.alias
        return None if self.version is None else str(self.version)


def model_reference(ref: str) -> ModelReference:
    """``name``, ``name/3``, ``name/latest`` or ``name@alias``; 400 for anything else."""
    match = _MODEL_REFERENCE.fullmatch(ref)
    if match is None:
        raise BadRequest(
            f"'{ref[:300]}' is not a model reference; use `name`, `name/3` or `name@alias`."
        )
    if match["alias"]:
        return ModelReference(match["name"], alias=match["alias"])
    version = match["version"]
    if version is None or version == "latest":
        return ModelReference(match["name"])
    return ModelReference(match["name"], version=version_number(version))


def version_number(value: int | str) -> int:
    """A version number from a path, a query or a reference: ASCII digits, 1 to 999,999,999."""
    number = value if isinstance(value, int) else ascii_int(value)
    if number is None or not 1 <= number <= MAX_VERSION:
        raise BadRequest(
            f"'{str(value)[:40]}' is not a version; use a number from 1 to {MAX_VERSION}, "
            "`latest` or `@alias`."
        )
    return number
