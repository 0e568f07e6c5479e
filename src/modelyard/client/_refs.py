"""Model version references as the API spells them: ``name``, ``name/3``, ``name@alias``."""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["segment", "split_reference"]


def segment(value: str | int) -> str:
    """One path segment, percent-encoded (a tag key may hold ``/``)."""
    return quote(str(value), safe="")


def split_reference(reference: str, version: int | str | None = None) -> tuple[str, str]:
    """``(model, selector)`` where the selector is a number, ``latest`` or ``@alias``.

    ``version`` applies to a bare name: ``("sales", 3)`` is ``sales/3``.
    """
    if "@" in reference:
        name, _, alias = reference.partition("@")
        return name, "@" + alias
    if "/" in reference:
        name, _, selector = reference.partition("/")
        return name, selector
    return reference, "latest" if version is None else str(version)
