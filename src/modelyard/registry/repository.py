"""Queries of the registry: Core on the hot read paths (list, resolve), batched, no N+1."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.kit.errors import BadRequest
from modelyard.kit.pagination import decode_cursor, encode_cursor
from modelyard.models import ModelAlias, ModelTag, ModelVersion, RegisteredModel, VersionTag

_SORT_COLUMNS = {
    "name": RegisteredModel.name,
    "created_at": RegisteredModel.created_at,
    "updated_at": RegisteredModel.updated_at,
}

_MODEL_COLUMNS = (
    RegisteredModel.id,
    RegisteredModel.name,
    RegisteredModel.description,
    RegisteredModel.latest_version,
    RegisteredModel.latest_flavor,
    RegisteredModel.created_by,
    RegisteredModel.created_at,
    RegisteredModel.updated_at,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_models(
    session: Session,
    *,
    q: str | None,
    tags: list[str],
    flavor: str | None,
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = _SORT_COLUMNS[key]
    query = sa.select(*_MODEL_COLUMNS)
    if q:
        query = query.where(RegisteredModel.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
    for tag in tags:
        tag_key, _, tag_value = tag.partition("=")
        condition = sa.and_(ModelTag.model_id == RegisteredModel.id, ModelTag.key == tag_key)
        if "=" in tag:
            condition = sa.and_(condition, ModelTag.value == tag_value)
        query = query.where(sa.exists().where(condition))
    if flavor:
        query = query.where(
            sa.exists().where(
                ModelVersion.model_id == RegisteredModel.id, ModelVersion.flavor == flavor
            )
        )
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2 or not isinstance(values[1], int):
            raise BadRequest("The cursor is not valid; pass the `next_cursor` of a previous page.")
        last_value: Any = values[0]
        if key != "name":
            try:
                last_value = dt.datetime.fromisoformat(str(last_value))
            except ValueError as exc:
                raise BadRequest("The cursor does not match this sort order.") from exc
        pair = sa.tuple_(column, RegisteredModel.id)
        query = query.where(
            pair < (last_value, values[1]) if descending else pair > (last_value, values[1])
        )
    order = (
        (column.desc(), RegisteredModel.id.desc()) if descending else (column, RegisteredModel.id)
    )
    rows = [dict(r._mapping) for r in session.execute(query.order_by(*order).limit(limit + 1))]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last[key], last["id"]])
    attach_tags_and_aliases(session, rows)
    return rows, next_cursor


def attach_tags_and_aliases(session: Session, rows: list[dict[str, Any]]) -> None:
    """Fill ``tags`` and ``aliases`` of model rows with two batched queries."""
    by_id = {row["id"]: row for row in rows}
    for row in rows:
        row["tags"] = {}
        row["aliases"] = {}
    if not by_id:
        return
    ids = list(by_id)
    for model_id, tag_key, value in session.execute(
        sa.select(ModelTag.model_id, ModelTag.key, ModelTag.value).where(ModelTag.model_id.in_(ids))
    ):
        by_id[model_id]["tags"][tag_key] = value
    for model_id, alias, version in session.execute(
        sa.select(ModelAlias.model_id, ModelAlias.alias, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
        .where(ModelAlias.model_id.in_(ids))
    ):
        by_id[model_id]["aliases"][alias] = version


def model_row(session: Session, name: str) -> dict[str, Any] | None:
    row = session.execute(sa.select(*_MODEL_COLUMNS).where(RegisteredModel.name == name)).first()
    if row is None:
        return None
    result = dict(row._mapping)
    attach_tags_and_aliases(session, [result])
    return result


# Built once: aliasing entities is costly, and a fresh alias per call would also miss
# SQLAlchemy's compiled-statement cache.
_PARENT = sa.orm.aliased(ModelVersion, name="parent")
_PARENT_MODEL = sa.orm.aliased(RegisteredModel, name="parent_model")
_VERSIONS = (
    sa.select(
        ModelVersion,
        _PARENT.version.label("parent_version"),
        _PARENT_MODEL.name.label("parent_model"),
    )
    .outerjoin(_PARENT, _PARENT.id == ModelVersion.parent_version_id)
    .outerjoin(_PARENT_MODEL, _PARENT_MODEL.id == _PARENT.model_id)
    .order_by(ModelVersion.version.desc())
)


def version_rows(
    session: Session,
    model_id: int,
    model_name: str,
    *,
    where: Any = None,
    limit: int | None = None,
    after: int | None = None,
) -> list[dict[str, Any]]:
    """Versions of one model (newest first) with tags, aliases and parent, batched."""
    query = _VERSIONS.where(ModelVersion.model_id == model_id)
    if where is not None:
        query = query.where(where)
    if after is not None:
        query = query.where(ModelVersion.version < after)
    if limit is not None:
        query = query.limit(limit)
    rows: list[dict[str, Any]] = []
    for version, parent_version, parent_model_name in session.execute(query):
        rows.append(
            {
                "id": version.id,
                "model": model_name,
                "version": version.version,
                "flavor": version.flavor,
                "parameters": version.parameters,
                "metrics": version.metrics,
                "source": version.source,
                "description": version.description,
                "parent": f"{parent_model_name}/{parent_version}" if parent_version else None,
                "artifact": (
                    {
                        "sha256": version.artifact_sha256,
                        "size": version.artifact_size,
                        "filename": version.artifact_filename,
                    }
                    if version.artifact_sha256
                    else None
                ),
                "created_by": version.created_by,
                "created_at": version.created_at,
                "tags": {},
                "aliases": [],
            }
        )
    by_id = {row["id"]: row for row in rows}
    if by_id:
        ids = list(by_id)
        for version_id, tag_key, value in session.execute(
            sa.select(VersionTag.version_id, VersionTag.key, VersionTag.value).where(
                VersionTag.version_id.in_(ids)
            )
        ):
            by_id[version_id]["tags"][tag_key] = value
        for version_id, alias in session.execute(
            sa.select(ModelAlias.version_id, ModelAlias.alias)
            .where(ModelAlias.version_id.in_(ids))
            .order_by(ModelAlias.alias)
        ):
            by_id[version_id]["aliases"].append(alias)
    return rows


def resolve_alias(session: Session, model_name: str, alias: str) -> int | None:
    return session.scalar(
        sa.select(ModelVersion.version)
        .join(ModelAlias, ModelAlias.version_id == ModelVersion.id)
        .join(RegisteredModel, RegisteredModel.id == ModelAlias.model_id)
        .where(RegisteredModel.name == model_name, ModelAlias.alias == alias)
    )
