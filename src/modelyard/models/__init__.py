"""Every table, one module per table, re-exported here so Alembic sees the whole metadata."""

from modelyard.kit.db import Base
from modelyard.models.audit import AuditEntry
from modelyard.models.registry import (
    ModelAlias,
    ModelTag,
    ModelVersion,
    RegisteredModel,
    VersionTag,
)
from modelyard.models.users import ApiToken, User

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "ModelAlias",
    "ModelTag",
    "ModelVersion",
    "RegisteredModel",
    "User",
    "VersionTag",
]
