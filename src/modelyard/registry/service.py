"""Registry logic: models, versions, aliases, tags and the audit trail of every change.

Functions take a session and ``flush()``; the caller's request or task commits. They return
the output schemas of :mod:`modelyard.registry.schemas`, validated from the repository's rows.
Every write counts itself (``changed``: the registry's generation, which cached reads are
keyed by) in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard import flavors
from modelyard.auth.service import record, require_owner
from modelyard.kit.errors import BadRequest, Conflict, NotFound
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.kit.refs import model_reference, version_number
from modelyard.kit.time import utcnow
from modelyard.models import (
    AliasProtection,
    AuditEntry,
    ModelAlias,
    ModelTag,
    ModelVersion,
    RegisteredModel,
    VersionTag,
)
from modelyard.registry import _protection, repository
from modelyard.registry._generation import changed
from modelyard.registry.schemas import (
    ALIAS_PATTERN,
    AuditOut,
    AuditPage,
    GateOut,
    ModelCreate,
    ModelOut,
    ModelPage,
    ModelUpdate,
    ProtectionOut,
    ProtectionSet,
    SortKey,
    VersionCreate,
    VersionOut,
    VersionPage,
    VersionUpdate,
)
from modelyard.webhooks import service as webhooks


@dataclass(frozen=True)
class Artifact:
    sha256: str
    size: int
    filename: str | None


@dataclass(frozen=True)
class ResolvedVersion:
    """A version found by reference, for other domains (evaluations, deployments)."""

    model: str
    version: int
    version_id: int
    flavor: str
    parameters: dict[str, Any]
    artifact_sha256: str | None


def _model(session: Session, name: str) -> RegisteredModel:
    model = session.scalar(sa.select(RegisteredModel).where(RegisteredModel.name == name))
    if model is None:
        raise NotFound(f"No model named '{name}'; list models with GET /api/models.")
    return model


def model_id(session: Session, name: str) -> int:
    """The id of the model named ``name`` (404 when there is none)."""
    return _model(session, name).id


def count_change(session: Session) -> None:
    """Count a change made outside this module that registry reads and references depend on
    (a model's prediction-log setting): what is cached under the registry's generation
    misses from its commit on."""
    changed(session)


def _touch(session: Session, model_id: int) -> None:
    session.execute(
        sa.update(RegisteredModel).where(RegisteredModel.id == model_id).values(updated_at=utcnow())
    )


def search_models(
    session: Session,
    *,
    q: str | None = None,
    tags: list[str] | None = None,
    flavor: str | None = None,
    sort: SortKey = "name",
    limit: int = 100,
    cursor: str | None = None,
) -> ModelPage:
    """One page of models by name substring, tags (``key`` or ``key=value``) and flavor."""
    rows, next_cursor = repository.search_models(
        session, q=q, tags=tags or [], flavor=flavor, sort=sort, limit=limit, cursor=cursor
    )
    return ModelPage(items=[ModelOut.model_validate(row) for row in rows], next_cursor=next_cursor)


def get_model(session: Session, name: str) -> ModelOut:
    row = repository.model_row(session, name)
    if row is None:
        raise NotFound(f"No model named '{name}'; list models with GET /api/models.")
    return ModelOut.model_validate(row)


_MODEL_ID = sa.select(RegisteredModel.id).where(RegisteredModel.name == sa.bindparam("name"))
_INSERT_MODEL = sa.insert(RegisteredModel).returning(RegisteredModel.id)
_INSERT_MODEL_TAGS = sa.insert(ModelTag)


def create_model(session: Session, data: ModelCreate, *, actor: str) -> ModelOut:
    # Prepared statements on the session's connection: creating models is a hot path, and
    # Session.execute of a statement built per call costs several times the statement.
    connection = session.connection()
    if connection.execute(_MODEL_ID, {"name": data.name}).first() is not None:
        raise Conflict(
            f"A model named '{data.name}' already exists; choose another name or add a version to it."
        )
    now = utcnow()
    model_id = connection.execute(
        _INSERT_MODEL,
        {
            "name": data.name,
            "description": data.description,
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
            "latest_version": 0,
        },
    ).scalar_one()
    if data.tags:
        connection.execute(
            _INSERT_MODEL_TAGS,
            [{"model_id": model_id, "key": k, "value": v} for k, v in data.tags.items()],
        )
    changed(session)
    record(session, actor, "model.create", "model", data.name)
    created = ModelOut(
        name=data.name,
        description=data.description,
        latest_version=0,
        latest_flavor=None,
        tags=dict(data.tags),
        aliases={},
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    webhooks.emit(session, "model.created", created.model_dump(), model=data.name)
    return created


def update_model(
    session: Session, name: str, data: ModelUpdate, *, actor: str, as_admin: bool = False
) -> ModelOut:
    model = _model(session, name)
    require_owner(
        model.created_by, actor=actor, as_admin=as_admin, what=f"Model '{name}'", action="change it"
    )
    if data.description is not None:
        model.description = data.description
    if data.tags:
        _apply_tags(session, ModelTag, "model_id", model.id, data.tags)
    model.updated_at = utcnow()
    session.flush()
    changed(session)
    record(session, actor, "model.update", "model", name, **data.model_dump(exclude_none=True))
    return get_model(session, name)


def delete_model(session: Session, name: str, *, actor: str, as_admin: bool = False) -> None:
    model = _model(session, name)
    require_owner(
        model.created_by, actor=actor, as_admin=as_admin, what=f"Model '{name}'", action="delete it"
    )
    if not as_admin:
        held = session.scalar(
            sa.select(ModelAlias.alias)
            .join(
                AliasProtection,
                sa.and_(
                    AliasProtection.model_id == ModelAlias.model_id,
                    AliasProtection.alias == ModelAlias.alias,
                ),
            )
            .where(ModelAlias.model_id == model.id)
            .limit(1)
        )
        if held is not None:
            raise _protection.admin_only(session, actor, name, held, "delete its model")
    # Explicit deletes keep this independent of ON DELETE support being switched on.
    version_ids = sa.select(ModelVersion.id).where(ModelVersion.model_id == model.id)
    session.execute(sa.delete(ModelAlias).where(ModelAlias.model_id == model.id))
    session.execute(sa.delete(VersionTag).where(VersionTag.version_id.in_(version_ids)))
    session.execute(
        sa.update(ModelVersion)
        .where(ModelVersion.parent_version_id.in_(version_ids))
        .values(parent_version_id=None)
    )
    session.execute(sa.delete(ModelVersion).where(ModelVersion.model_id == model.id))
    session.execute(sa.delete(ModelTag).where(ModelTag.model_id == model.id))
    session.execute(sa.delete(AliasProtection).where(AliasProtection.model_id == model.id))
    session.delete(model)
    session.flush()
    changed(session)
    record(session, actor, "model.delete", "model", name)
    webhooks.emit(session, "model.deleted", {"model": name, "actor": actor}, model=name)


def _apply_tags(
    session: Session, table: Any, owner_column: str, owner_id: int, tags: dict[str, str | None]
) -> None:
    owner = getattr(table, owner_column)
    for key, value in tags.items():
        session.execute(sa.delete(table).where(owner == owner_id, table.key == key))
        if value is not None:
            session.execute(
                sa.insert(table).values({owner_column: owner_id, "key": key, "value": value})
            )


def parse_reference(ref: str) -> tuple[str, str | None]:
    """Split ``name``, ``name/3``, ``name/latest`` or ``name@alias`` into (name, selector)."""
    parsed = model_reference(ref)
    return parsed.name, parsed.selector


def _version_number(session: Session, model: RegisteredModel, selector: str | int | None) -> int:
    if selector is None or selector == "latest":
        number = session.scalar(
            sa.select(sa.func.max(ModelVersion.version)).where(ModelVersion.model_id == model.id)
        )
        if number is None:
            raise NotFound(f"Model '{model.name}' has no versions yet.")
        return int(number)
    if isinstance(selector, str) and selector.startswith("@"):
        number = repository.resolve_alias(session, model.name, selector[1:])
        if number is None:
            raise NotFound(f"Model '{model.name}' has no alias '{selector[1:]}'.")
        return int(number)
    return version_number(selector)


def _version(session: Session, model: RegisteredModel, selector: str | int | None) -> ModelVersion:
    number = _version_number(session, model, selector)
    version = session.scalar(
        sa.select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.version == number
        )
    )
    if version is None:
        raise NotFound(f"Model '{model.name}' has no version {number}.")
    return version


def resolve(session: Session, ref: str, version: str | int | None = None) -> ResolvedVersion:
    """Find a version from ``name``, ``name/3`` or ``name@alias`` (and an optional version)."""
    name, selector = parse_reference(ref)
    if version is not None and selector is not None and str(version) != selector:
        raise BadRequest(f"'{ref}' already names a version; leave `version` out.")
    found = _version(session, _model(session, name), selector if selector is not None else version)
    return ResolvedVersion(
        model=name,
        version=found.version,
        version_id=found.id,
        flavor=found.flavor,
        parameters=found.parameters,
        artifact_sha256=found.artifact_sha256,
    )


def create_version(
    session: Session,
    name: str,
    data: VersionCreate,
    artifact: Artifact | None,
    *,
    actor: str,
    number: int | None = None,
) -> VersionOut:
    """Add the next version; with ``number`` (an import keeping another registry's numbers)
    that number, when it is above every number the model has used, else the next one."""
    model = _model(session, name)
    flavors.validate(data.flavor, data.parameters, has_artifact=artifact is not None)
    parent_id = None
    if data.parent:
        parent_name, selector = parse_reference(data.parent)
        parent_id = _version(session, _model(session, parent_name), selector).id
    wanted = (
        sa.case(
            (RegisteredModel.latest_version < number, number),
            else_=RegisteredModel.latest_version + 1,
        )
        if number is not None
        else RegisteredModel.latest_version + 1
    )
    number = session.execute(
        sa.update(RegisteredModel)
        .where(RegisteredModel.id == model.id)
        .values(latest_version=wanted, latest_flavor=data.flavor, updated_at=utcnow())
        .returning(RegisteredModel.latest_version)
    ).scalar_one()
    version = ModelVersion(
        model_id=model.id,
        version=number,
        flavor=data.flavor,
        parameters=data.parameters,
        metrics=data.metrics,
        source=data.source,
        description=data.description,
        parent_version_id=parent_id,
        created_by=actor,
        artifact_sha256=artifact.sha256 if artifact else None,
        artifact_size=artifact.size if artifact else None,
        artifact_filename=artifact.filename if artifact else None,
    )
    session.add(version)
    session.flush()
    if data.tags:
        _apply_tags(session, VersionTag, "version_id", version.id, dict(data.tags))
    changed(session)
    record(
        session,
        actor,
        "version.create",
        "model",
        name,
        version=number,
        flavor=data.flavor,
        artifact=artifact.sha256 if artifact else None,
    )
    session.flush()
    created = get_version(session, name, number)
    webhooks.emit(session, "version.created", created.model_dump() | {"actor": actor}, model=name)
    return created


def list_versions(session: Session, name: str, *, limit: int, cursor: str | None) -> VersionPage:
    """One page of a model's versions, newest first."""
    model = _model(session, name)
    after = decode_id_cursor(cursor)
    rows = repository.version_rows(session, model.id, name, limit=limit + 1, after=after)
    page, next_cursor = id_page(rows, limit, lambda row: row["version"])
    return VersionPage(
        items=[VersionOut.model_validate(row) for row in page], next_cursor=next_cursor
    )


def get_version(session: Session, name: str, selector: str | int | None) -> VersionOut:
    model = _model(session, name)
    number = _version_number(session, model, selector)
    rows = repository.version_rows(session, model.id, name, where=ModelVersion.version == number)
    if not rows:
        raise NotFound(f"Model '{name}' has no version {number}.")
    return VersionOut.model_validate(rows[0])


def version_artifact(session: Session, name: str, selector: str | int | None) -> Artifact:
    version = _version(session, _model(session, name), selector)
    if not version.artifact_sha256:
        raise NotFound(
            f"Version {version.version} of '{name}' has no artifact; its parameters are the model."
        )
    return Artifact(version.artifact_sha256, version.artifact_size or 0, version.artifact_filename)


def update_version(
    session: Session, name: str, selector: str, data: VersionUpdate, *, actor: str
) -> VersionOut:
    model = _model(session, name)
    version = _version(session, model, selector)
    if data.description is not None:
        version.description = data.description
    if data.metrics is not None:
        version.metrics = {**version.metrics, **data.metrics}
    if data.tags:
        _apply_tags(session, VersionTag, "version_id", version.id, data.tags)
    _touch(session, model.id)
    session.flush()
    changed(session)
    record(
        session,
        actor,
        "version.update",
        "model",
        name,
        version=version.version,
        **data.model_dump(exclude_none=True),
    )
    return get_version(session, name, version.version)


def merge_version_metrics(
    session: Session, version_id: int, metrics: dict[str, float], *, actor: str = "evaluation"
) -> None:
    """Merge metrics into a version (used by evaluations writing scores back)."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFound(f"No model version with id {version_id}.")
    version.metrics = {**version.metrics, **metrics}
    session.flush()
    model_name = session.scalar(
        sa.select(RegisteredModel.name).where(RegisteredModel.id == version.model_id)
    )
    changed(session)
    record(
        session,
        actor,
        "version.metrics",
        "model",
        model_name or "",
        version=version.version,
        metrics=sorted(metrics),
    )


def delete_version(
    session: Session, name: str, selector: str, *, actor: str, as_admin: bool = False
) -> None:
    model = _model(session, name)
    version = _version(session, model, selector)
    if version.created_by != actor:  # its author may delete it, as may the model's owner
        require_owner(
            model.created_by,
            actor=actor,
            as_admin=as_admin,
            what=f"Model '{name}'",
            action=f"delete version {version.version}, which '{version.created_by}' added",
        )
    if not as_admin:
        held = session.scalar(
            sa.select(ModelAlias.alias)
            .join(
                AliasProtection,
                sa.and_(
                    AliasProtection.model_id == ModelAlias.model_id,
                    AliasProtection.alias == ModelAlias.alias,
                ),
            )
            .where(ModelAlias.version_id == version.id)
            .limit(1)
        )
        if held is not None:
            raise _protection.admin_only(
                session, actor, name, held, f"delete version {version.version}, which it names"
            )
    session.execute(sa.delete(ModelAlias).where(ModelAlias.version_id == version.id))
    session.execute(sa.delete(VersionTag).where(VersionTag.version_id == version.id))
    session.execute(
        sa.update(ModelVersion)
        .where(ModelVersion.parent_version_id == version.id)
        .values(parent_version_id=None)
    )
    session.delete(version)
    session.flush()
    model.latest_flavor = session.scalar(
        sa.select(ModelVersion.flavor)
        .where(ModelVersion.model_id == model.id)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )
    _touch(session, model.id)
    changed(session)
    record(session, actor, "version.delete", "model", name, version=version.version)
    webhooks.emit(
        session,
        "version.deleted",
        {"model": name, "version": version.version, "actor": actor},
        model=name,
    )


def set_alias(
    session: Session, name: str, alias: str, number: int, *, actor: str, as_admin: bool = False
) -> VersionOut:
    """Point ``alias`` at version ``number``. A protected alias moves only for an admin
    (``as_admin``) or when the version passes the alias's gate; else a 409 saying why."""
    if not re.fullmatch(ALIAS_PATTERN, alias) or alias == "latest":
        raise BadRequest(
            f"'{alias}' is not a valid alias; use a letter then letters, digits, _ or - (and not 'latest')."
        )
    model = _model(session, name)
    version = _version(session, model, number)
    existing = session.get(ModelAlias, (model.id, alias))
    holder = session.get(ModelVersion, existing.version_id) if existing is not None else None
    previous = holder.version if holder is not None else None
    guard = _protection.protection(session, model.id, alias)
    audit: dict[str, Any] = {}
    if guard is not None:
        verdict = _protection.judge(
            session, guard, model=name, candidate=version, holder=holder, as_admin=as_admin
        )
        if not verdict.allowed:
            raise _protection.refuse(session, actor, name, alias, number, verdict)
        audit = {"protected": True, "allowed_by": verdict.check, **verdict.evidence}
    if existing is None:
        session.add(ModelAlias(model_id=model.id, alias=alias, version_id=version.id))
    else:
        existing.version_id = version.id
        existing.updated_at = utcnow()
    _touch(session, model.id)
    session.flush()
    changed(session)
    record(
        session,
        actor,
        "alias.set",
        "model",
        name,
        alias=alias,
        version=number,
        previous=previous,
        **audit,
    )
    if previous != number:
        webhooks.emit(
            session,
            "alias.moved",
            {
                "model": name,
                "alias": alias,
                "version": number,
                "previous": previous,
                "protected": guard is not None,
                "actor": actor,
            },
            model=name,
        )
    return get_version(session, name, number)


def delete_alias(
    session: Session, name: str, alias: str, *, actor: str, as_admin: bool = False
) -> None:
    model = _model(session, name)
    existing = session.get(ModelAlias, (model.id, alias))
    if existing is None:
        raise NotFound(f"Model '{name}' has no alias '{alias}'.")
    if not as_admin and _protection.protection(session, model.id, alias) is not None:
        raise _protection.admin_only(session, actor, name, alias, "remove it")
    held = session.scalar(
        sa.select(ModelVersion.version).where(ModelVersion.id == existing.version_id)
    )
    session.delete(existing)
    _touch(session, model.id)
    session.flush()
    changed(session)
    record(session, actor, "alias.delete", "model", name, alias=alias)
    webhooks.emit(
        session,
        "alias.deleted",
        {"model": name, "alias": alias, "version": held, "actor": actor},
        model=name,
    )


def _protection_out(session: Session, name: str, row: AliasProtection) -> ProtectionOut:
    version = session.scalar(
        sa.select(ModelVersion.version)
        .join(ModelAlias, ModelAlias.version_id == ModelVersion.id)
        .where(ModelAlias.model_id == row.model_id, ModelAlias.alias == row.alias)
    )
    return ProtectionOut(
        model=name,
        alias=row.alias,
        version=version,
        gate=GateOut.model_validate(row.gate) if row.gate else None,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_protections(session: Session, name: str) -> list[ProtectionOut]:
    model = _model(session, name)
    rows = session.scalars(
        sa.select(AliasProtection)
        .where(AliasProtection.model_id == model.id)
        .order_by(AliasProtection.alias)
    ).all()
    return [_protection_out(session, name, row) for row in rows]


def get_protection(session: Session, name: str, alias: str) -> ProtectionOut:
    model = _model(session, name)
    row = _protection.protection(session, model.id, alias)
    if row is None:
        raise NotFound(f"Alias '{alias}' of '{name}' is not protected.")
    return _protection_out(session, name, row)


def protect_alias(
    session: Session, name: str, alias: str, data: ProtectionSet, *, actor: str
) -> ProtectionOut:
    """Protect ``alias`` (set or not yet) or change its gate; admins only (the caller checks)."""
    if not re.fullmatch(ALIAS_PATTERN, alias) or alias == "latest":
        raise BadRequest(f"'{alias}' is not a valid alias.")
    model = _model(session, name)
    gate = _protection.gate_from(session, data.gate) if data.gate is not None else None
    row = _protection.protection(session, model.id, alias)
    now = utcnow()
    if row is None:
        row = AliasProtection(
            model_id=model.id, alias=alias, gate=gate, created_by=actor, created_at=now
        )
        session.add(row)
    else:
        row.gate = gate
    row.updated_at = now
    _touch(session, model.id)
    session.flush()
    changed(session)
    record(session, actor, "alias.protect", "model", name, alias=alias, gate=gate)
    return _protection_out(session, name, row)


def unprotect_alias(session: Session, name: str, alias: str, *, actor: str) -> None:
    model = _model(session, name)
    row = _protection.protection(session, model.id, alias)
    if row is None:
        raise NotFound(f"Alias '{alias}' of '{name}' is not protected.")
    session.delete(row)
    _touch(session, model.id)
    session.flush()
    changed(session)
    record(session, actor, "alias.unprotect", "model", name, alias=alias)


def set_model_tag(
    session: Session, name: str, key: str, value: str, *, actor: str, as_admin: bool = False
) -> ModelOut:
    return update_model(
        session, name, ModelUpdate(tags={key: value}), actor=actor, as_admin=as_admin
    )


def delete_model_tag(
    session: Session, name: str, key: str, *, actor: str, as_admin: bool = False
) -> ModelOut:
    model = _model(session, name)
    if session.get(ModelTag, (model.id, key)) is None:
        raise NotFound(f"Model '{name}' has no tag '{key}'.")
    return update_model(
        session, name, ModelUpdate(tags={key: None}), actor=actor, as_admin=as_admin
    )


def set_version_tag(
    session: Session, name: str, selector: str, key: str, value: str, *, actor: str
) -> VersionOut:
    return update_version(session, name, selector, VersionUpdate(tags={key: value}), actor=actor)


def delete_version_tag(
    session: Session, name: str, selector: str, key: str, *, actor: str
) -> VersionOut:
    version = _version(session, _model(session, name), selector)
    if session.get(VersionTag, (version.id, key)) is None:
        raise NotFound(f"Version {version.version} of '{name}' has no tag '{key}'.")
    return update_version(session, name, selector, VersionUpdate(tags={key: None}), actor=actor)


def list_audit(
    session: Session,
    *,
    actor: str | None,
    object_type: str | None,
    object_key: str | None,
    limit: int,
    cursor: str | None,
) -> AuditPage:
    query = sa.select(
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.object_type,
        AuditEntry.object_key,
        AuditEntry.detail,
    )
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_key:
        query = query.where(AuditEntry.object_key == object_key)
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(AuditEntry.id < below)
    rows = [
        AuditOut.model_validate(dict(r._mapping))
        for r in session.execute(query.order_by(AuditEntry.id.desc()).limit(limit + 1))
    ]
    page, next_cursor = id_page(rows, limit, lambda row: row.id)
    return AuditPage(items=page, next_cursor=next_cursor)
