"""Input and output shapes of the registry endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from modelyard.kit import names

MODEL_NAME_PATTERN = rf"^{names.NAME_PATTERN}$"
ALIAS_PATTERN = rf"^{names.ALIAS_PATTERN}$"
FLAVOR_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
TAG_KEY_PATTERN = r"^[A-Za-z0-9_.:/-]{1,128}$"
VERSION_SELECTOR_PATTERN = rf"^([0-9]{{1,9}}|latest|@{names.ALIAS_PATTERN})$"

SortKey = Literal["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]

TagValue = Annotated[str, Field(max_length=500)]
Tags = dict[str, TagValue]
TagChanges = dict[str, TagValue | None]
# The key rules in the OpenAPI document too, so that clients (and schemathesis) know them.
_TAG_KEYS: dict[str, Any] = {"propertyNames": {"pattern": TAG_KEY_PATTERN}, "maxProperties": 100}


def _check_tags(tags: dict[str, Any] | None) -> dict[str, Any] | None:
    import re

    if tags is None:
        return None
    if len(tags) > 100:
        raise ValueError("at most 100 tags")
    for key, value in tags.items():
        if not re.fullmatch(TAG_KEY_PATTERN, key):
            raise ValueError(f"tag key {key!r} must be 1-128 letters, digits or _ . : / -")
        if value is not None and len(str(value)) > 500:
            raise ValueError(f"tag {key!r} is longer than 500 characters")
    return tags


class ModelCreate(BaseModel):
    name: str = Field(
        pattern=MODEL_NAME_PATTERN, description="Letters, digits, _ . -; 1-200 chars."
    )
    description: str = Field(
        default="",
        max_length=10_000,
        description="What the model is for (Markdown).",
        examples=["Units sold per region, weekly."],
    )
    tags: Tags = Field(
        default_factory=dict,
        json_schema_extra=_TAG_KEYS,
        description="Labels, key -> value.",
        examples=[{"team": "forecasting"}],
    )

    _tags = field_validator("tags")(_check_tags)


class ModelUpdate(BaseModel):
    description: str | None = Field(
        default=None, max_length=10_000, description="A new description; null keeps it."
    )
    tags: TagChanges | None = Field(
        default=None,
        description="Tags to set; a null value removes that tag.",
        json_schema_extra=_TAG_KEYS,
    )

    _tags = field_validator("tags")(_check_tags)


class ModelOut(BaseModel):
    name: str = Field(description="The model's name, unique.")
    description: str = Field(description="What the model is for (Markdown).")
    latest_version: int = Field(description="The newest version's number; 0 before the first.")
    latest_flavor: str | None = Field(
        description="The newest version's flavor; null before the first."
    )
    tags: Tags = Field(description="Labels, key -> value.")
    aliases: dict[str, int] = Field(description="Alias -> the version it points at.")
    created_by: str = Field(description="The user who registered it.")
    created_at: dt.datetime = Field(description="When it was registered (UTC).")
    updated_at: dt.datetime = Field(description="When it or its versions last changed (UTC).")


class ModelPage(BaseModel):
    items: list[ModelOut] = Field(description="This page's models.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class VersionCreate(BaseModel):
    flavor: str = Field(
        default="generic",
        pattern=FLAVOR_PATTERN,
        description="formula, sklearn (skops), onnx, or generic for an opaque artifact.",
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="The version's parameters; a formula's are the model itself.",
        examples=[{"kind": "linear", "coef": {"x": 2.0}, "intercept": 1.0}],
    )
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Scores to record with it, name -> number."
    )
    source: str = Field(
        default="", max_length=1000, description="Where it came from (a commit, a run)."
    )
    description: str = Field(
        default="", max_length=10_000, description="What changed in it (Markdown)."
    )
    tags: Tags = Field(
        default_factory=dict, json_schema_extra=_TAG_KEYS, description="Labels, key -> value."
    )
    parent: str | None = Field(
        default=None,
        max_length=300,
        description="Lineage: the version this one derives from, as `model/3` or `model@alias`.",
    )

    _tags = field_validator("tags")(_check_tags)


class VersionUpdate(BaseModel):
    description: str | None = Field(
        default=None, max_length=10_000, description="A new description; null keeps it."
    )
    metrics: dict[str, float] | None = Field(
        default=None, description="Scores to set, name -> number; null keeps them."
    )
    tags: TagChanges | None = Field(
        default=None,
        description="Tags to set; a null value removes that tag.",
        json_schema_extra=_TAG_KEYS,
    )

    _tags = field_validator("tags")(_check_tags)


class ArtifactOut(BaseModel):
    sha256: str = Field(description="The file's SHA-256, hex; downloads are checked against it.")
    size: int = Field(description="Bytes.")
    filename: str | None = Field(description="The uploader's file name, a label only.")


class VersionOut(BaseModel):
    model: str = Field(description="The model's name.")
    version: int = Field(description="The version's number, from 1.")
    flavor: str = Field(description="formula, sklearn, onnx or generic.")
    parameters: dict[str, Any] = Field(
        description="The version's parameters (a formula's are the model)."
    )
    metrics: dict[str, Any] = Field(
        description="Scores written on the version, and `metric@dataset` headline scores of its evaluations."
    )
    source: str = Field(description="Where it came from (a commit, a run).")
    description: str = Field(description="What changed in it (Markdown).")
    tags: Tags = Field(description="Labels, key -> value.")
    aliases: list[str] = Field(description="The aliases that point at it.")
    parent: str | None = Field(description="Lineage: the version it derives from, `model/3`.")
    artifact: ArtifactOut | None = Field(description="Its file, if it has one.")
    created_by: str = Field(description="The user who added it.")
    created_at: dt.datetime = Field(description="When it was added (UTC).")


class VersionPage(BaseModel):
    items: list[VersionOut] = Field(description="This page's versions, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class AliasSet(BaseModel):
    version: int = Field(
        ge=1, le=999_999_999, description="The version the alias points at.", examples=[3]
    )


class TagSet(BaseModel):
    value: str = Field(
        default="",
        max_length=500,
        description="The tag's value (may be empty).",
        examples=["forecasting"],
    )


class AuditOut(BaseModel):
    id: int = Field(description="The entry's id.")
    at: dt.datetime = Field(description="When (UTC).")
    actor: str = Field(description="Who: a user name, or `cli`/`system`.")
    action: str = Field(description="What, e.g. `model.create`, `alias.set`.")
    object_type: str = Field(description="The kind of object: model, version, alias, user ...")
    object_key: str = Field(description="Which one, e.g. `sales/3`.")
    detail: dict[str, Any] = Field(description="What changed, as recorded.")


class AuditPage(BaseModel):
    items: list[AuditOut] = Field(description="This page's entries, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class AliasGate(BaseModel):
    """What a version must show before a non-admin may point a protected alias at it."""

    dataset: str | int = Field(
        description="The dataset (name or id) the candidate must have been evaluated on."
    )
    metric: str | None = Field(
        default=None,
        max_length=64,
        description="The candidate's evaluation must beat the current holder's on this metric "
        "(mae, rmse, mape, r2, accuracy, f1, ...); a holder not evaluated there is beaten.",
    )
    max_age_days: float | None = Field(
        default=None,
        gt=0,
        le=3650,
        description="The candidate's evaluation on the dataset must be at most this old.",
    )

    @model_validator(mode="after")
    def _one_condition(self) -> AliasGate:
        if self.metric is None and self.max_age_days is None:
            raise ValueError("a gate needs `metric`, `max_age_days` or both")
        return self


class ProtectionSet(BaseModel):
    gate: AliasGate | None = Field(
        default=None,
        description="Null: only admins may move or remove the alias. Otherwise non-admins may "
        "move it to a version that passes the gate.",
    )


class GateOut(BaseModel):
    dataset_id: int = Field(description="The dataset the candidate must be evaluated on.")
    dataset: str = Field(description="That dataset's name.")
    metric: str | None = Field(
        description="The metric the candidate must beat the holder on; null: only an evaluation."
    )
    max_age_days: float | None = Field(
        description="The evaluation must be newer than this many days; null: any age."
    )


class ProtectionOut(BaseModel):
    model: str = Field(description="The model's name.")
    alias: str = Field(description="The protected alias.")
    version: int | None = Field(description="The version the alias points at now, if set.")
    gate: GateOut | None = Field(
        description="What a move must pass besides being made by an admin; null: admins only."
    )
    created_by: str = Field(description="The admin who protected it.")
    created_at: dt.datetime = Field(description="When it was protected (UTC).")
    updated_at: dt.datetime = Field(description="When its gate last changed (UTC).")
