"""The model registry: models, versions, artifacts, tags, aliases and lineage."""

from modelyard.registry._reads import CachedReads

__all__ = ["CachedReads"]
