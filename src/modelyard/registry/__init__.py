"""The model registry: models, versions, artifacts, tags, aliases and lineage."""
