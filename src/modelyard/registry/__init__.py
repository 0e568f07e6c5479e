"""The model registry: models, versions, artifacts, tags, aliases and lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.registry._generation import generation
    from modelyard.registry._reads import CachedReads

__all__ = ["CachedReads", "generation"]


def __getattr__(name: str) -> Any:
    # Resolved on first use: ``modelyard.registry.schemas`` is imported by the Python client,
    # which must not load the server's middleware, database layer or web framework.
    if name == "CachedReads":
        from modelyard.registry import _reads

        return _reads.CachedReads
    if name == "generation":
        from modelyard.registry import _generation

        return _generation.generation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
