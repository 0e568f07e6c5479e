"""Registry endpoints: models, versions, artifacts, aliases, tags and the audit log.

Handlers are coroutines. Reads go through :func:`modelyard.registry._reads.cached_json`, which
answers from bytes kept in the app's cache while the registry is unchanged; a write hands its whole unit of work
(service call and commit) to one thread with :func:`modelyard.kit.deps.in_session`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard import flavors
from modelyard.auth.deps import Admin, Editor, Viewer
from modelyard.auth.schemas import Role
from modelyard.kit.body_limit import large_body, read_json_body
from modelyard.kit.deps import AppSettings, DbSession, in_session
from modelyard.kit.errors import (
    BadRequest,
    NotFound,
    Unprocessable,
    UnsupportedMediaType,
)
from modelyard.kit.security import plain_filename
from modelyard.registry import service
from modelyard.registry._reads import cached_json
from modelyard.registry.artifacts import (
    ArtifactStore,
    StagedArtifact,
    artifact_upload_limit,
    blob_key,
)
from modelyard.registry.schemas import (
    ALIAS_PATTERN,
    MODEL_NAME_PATTERN,
    TAG_KEY_PATTERN,
    VERSION_SELECTOR_PATTERN,
    AliasSet,
    AuditPage,
    ModelCreate,
    ModelOut,
    ModelPage,
    ModelUpdate,
    ProtectionOut,
    ProtectionSet,
    SortKey,
    TagSet,
    VersionCreate,
    VersionOut,
    VersionPage,
    VersionUpdate,
)
from modelyard.storage import BlobMissing, blob_response

router = APIRouter()

ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="The model's name.")]
Selector = Annotated[
    str,
    Path(pattern=VERSION_SELECTOR_PATTERN, description="A version number, `latest`, or `@alias`."),
]
AliasName = Annotated[str, Path(pattern=ALIAS_PATTERN)]
TagKey = Annotated[str, Path(pattern=TAG_KEY_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/models", response_model=ModelPage, tags=["models"])
async def list_models(
    request: Request,
    _: Viewer,
    q: Annotated[
        str | None, Query(max_length=200, description="Name substring, case-insensitive.")
    ] = None,
    tag: Annotated[
        list[str], Query(description="`key` or `key=value`; repeat to require several.")
    ] = [],  # noqa: B006
    flavor: Annotated[
        str | None, Query(max_length=32, description="Models with a version of this flavor.")
    ] = None,
    sort: SortKey = "name",
    limit: Limit = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Search models by name, tag and flavor, one page at a time."""

    def load(session: Session) -> ModelPage:
        return service.search_models(
            session, q=q, tags=tag, flavor=flavor, sort=sort, limit=limit, cursor=cursor
        )

    return await cached_json(request, load)


@router.post("/models", response_model=ModelOut, status_code=201, tags=["models"])
async def create_model(request: Request, data: ModelCreate, principal: Editor) -> ModelOut:
    """Register a new model."""
    return await in_session(
        request, lambda session: service.create_model(session, data, actor=principal.name)
    )


@router.get("/models/{name}", response_model=ModelOut, tags=["models"])
async def get_model(request: Request, name: ModelName, _: Viewer) -> Response:
    """Show a model with its tags and aliases."""
    return await cached_json(request, lambda session: service.get_model(session, name))


@router.patch("/models/{name}", response_model=ModelOut, tags=["models"])
async def update_model(
    request: Request, name: ModelName, data: ModelUpdate, principal: Editor
) -> ModelOut:
    """Change a model's description or tags."""
    return await in_session(
        request,
        lambda session: service.update_model(
            session, name, data, actor=principal.name, as_admin=principal.role is Role.admin
        ),
    )


@router.delete("/models/{name}", status_code=204, tags=["models"])
async def delete_model(request: Request, name: ModelName, principal: Editor) -> None:
    """Delete a model with all its versions, tags and aliases."""
    await in_session(
        request,
        lambda session: service.delete_model(
            session, name, actor=principal.name, as_admin=principal.role is Role.admin
        ),
    )


# The body is read by hand (JSON or multipart), so FastAPI cannot document it: this does, with
# the schema inline because no route parameter makes FastAPI register VersionCreate.
_VERSION_SCHEMA = VersionCreate.model_json_schema(ref_template="#/components/schemas/{model}")
_VERSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _VERSION_SCHEMA},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "metadata": {
                            **_VERSION_SCHEMA,
                            "description": "The version's fields, as a JSON part.",
                        },
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            },
        },
    }
}


async def _read_version_request(
    request: Request, settings: Any, store: ArtifactStore
) -> tuple[VersionCreate, StagedArtifact | None]:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            return VersionCreate.model_validate_json(await read_json_body(request)), None
        if content_type.startswith("multipart/form-data"):
            # The body limit stops the form at the artifact limit (and its slack) as it spools.
            limit = settings.storage.max_artifact_bytes
            form = await request.form(max_files=1, max_fields=10)
            try:
                raw = form.get("metadata") or "{}"
                if not isinstance(raw, str):
                    raise BadRequest("The form field `metadata` must be a JSON string, not a file.")
                data = VersionCreate.model_validate(json.loads(raw))
                upload = form.get("file")
                if upload is None or isinstance(upload, str):
                    raise BadRequest("The multipart form needs the artifact in the field `file`.")
                from starlette.concurrency import run_in_threadpool

                staged = await run_in_threadpool(
                    store.stage, upload.file, max_bytes=limit, filename=upload.filename
                )
                return data, staged
            finally:
                await form.close()
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Unprocessable(
            f"The version is not valid: {summary}.", extra={"errors": errors}
        ) from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The `metadata` field is not valid JSON: {exc.msg}.") from exc
    raise UnsupportedMediaType(
        "Send the version as application/json, or as multipart/form-data with `file` and `metadata`."
    )


@router.post(
    "/models/{name}/versions",
    response_model=VersionOut,
    status_code=201,
    openapi_extra=_VERSION_BODY,
    tags=["versions"],
)
@large_body(artifact_upload_limit, "MODELYARD_STORAGE__MAX_ARTIFACT_BYTES")
async def create_version(
    name: ModelName, request: Request, principal: Editor, settings: AppSettings
) -> VersionOut:
    """Add a version: JSON parameters, or a multipart upload of an artifact with metadata."""
    store = request.app.state.artifacts
    data, staged = await _read_version_request(request, settings, store)

    def write(session: Session) -> VersionOut:
        if staged is None:
            return service.create_version(session, name, data, None, actor=principal.name)
        # Checked while staged and promoted just before the commit: a refusal leaves no blob.
        flavors.check_artifact(
            data.flavor, data.parameters, staged.path, limits=store.archive_limits
        )
        filename = plain_filename(staged.filename)
        artifact = service.Artifact(staged.sha256, staged.size, filename)
        row = service.create_version(session, name, data, artifact, actor=principal.name)
        store.promote(staged)
        return row

    try:
        return await in_session(request, write)
    finally:
        if staged is not None:
            store.discard(staged)


@router.get("/models/{name}/versions", response_model=VersionPage, tags=["versions"])
async def list_versions(
    request: Request,
    name: ModelName,
    _: Viewer,
    limit: Limit = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """List a model's versions, newest first."""

    return await cached_json(
        request,
        lambda session: service.list_versions(session, name, limit=limit, cursor=cursor),
    )


@router.get("/models/{name}/versions/{version}", response_model=VersionOut, tags=["versions"])
async def get_version(request: Request, name: ModelName, version: Selector, _: Viewer) -> Response:
    """Show a version (a number, `latest` or `@alias`)."""
    return await cached_json(
        request,
        lambda session: service.get_version(session, name, version),
    )


@router.patch("/models/{name}/versions/{version}", response_model=VersionOut, tags=["versions"])
async def update_version(
    request: Request, name: ModelName, version: Selector, data: VersionUpdate, principal: Editor
) -> VersionOut:
    """Change a version's description, metrics or tags."""
    return await in_session(
        request,
        lambda session: service.update_version(session, name, version, data, actor=principal.name),
    )


@router.delete("/models/{name}/versions/{version}", status_code=204, tags=["versions"])
async def delete_version(
    request: Request, name: ModelName, version: Selector, principal: Editor
) -> None:
    """Delete a version and the aliases that point at it."""
    await in_session(
        request,
        lambda session: service.delete_version(
            session, name, version, actor=principal.name, as_admin=principal.role is Role.admin
        ),
    )


@router.get(
    "/models/{name}/versions/{version}/artifact",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    tags=["versions"],
)
def get_artifact(
    name: ModelName, version: Selector, request: Request, _: Viewer, session: DbSession
) -> Response:
    """Download a version's artifact file."""
    artifact = service.version_artifact(session, name, version)
    try:
        return blob_response(
            request.app.state.store,
            blob_key(artifact.sha256),
            media_type="application/octet-stream",
            filename=artifact.filename or f"{name}-{version}.bin",
            headers={"ETag": f'"{artifact.sha256}"', "X-Content-SHA256": artifact.sha256},
        )
    except BlobMissing as exc:
        raise NotFound(
            f"The artifact {artifact.sha256[:12]}... is missing from the store."
        ) from exc


@router.get("/models/{name}/aliases/{alias}", response_model=VersionOut, tags=["aliases"])
async def get_alias(request: Request, name: ModelName, alias: AliasName, _: Viewer) -> Response:
    """Resolve an alias to its version."""
    return await cached_json(
        request,
        lambda session: service.get_version(session, name, "@" + alias),
    )


@router.put("/models/{name}/aliases/{alias}", response_model=VersionOut, tags=["aliases"])
async def set_alias(
    request: Request, name: ModelName, alias: AliasName, data: AliasSet, principal: Editor
) -> VersionOut:
    """Point an alias at a version (creating or moving it); a protected alias needs its gate."""
    return await in_session(
        request,
        lambda session: service.set_alias(
            session,
            name,
            alias,
            data.version,
            actor=principal.name,
            as_admin=principal.role is Role.admin,
        ),
    )


@router.delete("/models/{name}/aliases/{alias}", status_code=204, tags=["aliases"])
async def delete_alias(
    request: Request, name: ModelName, alias: AliasName, principal: Editor
) -> None:
    """Remove an alias (an admin's to remove when it is protected)."""
    await in_session(
        request,
        lambda session: service.delete_alias(
            session, name, alias, actor=principal.name, as_admin=principal.role is Role.admin
        ),
    )


@router.get("/models/{name}/protections", response_model=list[ProtectionOut], tags=["aliases"])
async def list_protections(request: Request, name: ModelName, _: Viewer) -> Response:
    """List a model's protected aliases and their gates."""
    return await cached_json(request, lambda session: service.list_protections(session, name))


@router.get(
    "/models/{name}/aliases/{alias}/protection", response_model=ProtectionOut, tags=["aliases"]
)
async def get_protection(
    request: Request, name: ModelName, alias: AliasName, _: Viewer
) -> Response:
    """Show an alias's protection and gate."""
    return await cached_json(
        request,
        lambda session: service.get_protection(session, name, alias),
    )


@router.put(
    "/models/{name}/aliases/{alias}/protection", response_model=ProtectionOut, tags=["aliases"]
)
async def protect_alias(
    request: Request, name: ModelName, alias: AliasName, data: ProtectionSet, principal: Admin
) -> ProtectionOut:
    """Protect an alias: only admins, or a move whose version passes the gate, may move it."""
    return await in_session(
        request,
        lambda session: service.protect_alias(session, name, alias, data, actor=principal.name),
    )


@router.delete("/models/{name}/aliases/{alias}/protection", status_code=204, tags=["aliases"])
async def unprotect_alias(
    request: Request, name: ModelName, alias: AliasName, principal: Admin
) -> None:
    """Lift an alias's protection."""
    await in_session(
        request,
        lambda session: service.unprotect_alias(session, name, alias, actor=principal.name),
    )


@router.put("/models/{name}/tags/{key}", response_model=ModelOut, tags=["models"])
async def set_model_tag(
    request: Request, name: ModelName, key: TagKey, data: TagSet, principal: Editor
) -> ModelOut:
    """Set a tag on a model."""
    return await in_session(
        request,
        lambda session: service.set_model_tag(
            session,
            name,
            key,
            data.value,
            actor=principal.name,
            as_admin=principal.role is Role.admin,
        ),
    )


@router.delete("/models/{name}/tags/{key}", response_model=ModelOut, tags=["models"])
async def delete_model_tag(
    request: Request, name: ModelName, key: TagKey, principal: Editor
) -> ModelOut:
    """Remove a tag from a model."""
    return await in_session(
        request,
        lambda session: service.delete_model_tag(
            session, name, key, actor=principal.name, as_admin=principal.role is Role.admin
        ),
    )


@router.put(
    "/models/{name}/versions/{version}/tags/{key}", response_model=VersionOut, tags=["versions"]
)
async def set_version_tag(
    request: Request,
    name: ModelName,
    version: Selector,
    key: TagKey,
    data: TagSet,
    principal: Editor,
) -> VersionOut:
    """Set a tag on a version."""
    return await in_session(
        request,
        lambda session: service.set_version_tag(
            session, name, version, key, data.value, actor=principal.name
        ),
    )


@router.delete(
    "/models/{name}/versions/{version}/tags/{key}", response_model=VersionOut, tags=["versions"]
)
async def delete_version_tag(
    request: Request, name: ModelName, version: Selector, key: TagKey, principal: Editor
) -> VersionOut:
    """Remove a tag from a version."""
    return await in_session(
        request,
        lambda session: service.delete_version_tag(
            session, name, version, key, actor=principal.name
        ),
    )


@router.get("/audit", response_model=AuditPage, tags=["audit"])
async def list_audit(
    request: Request,
    _: Editor,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_key: Annotated[str | None, Query(max_length=300)] = None,
    limit: Limit = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> AuditPage:
    """List audit entries, newest first: who changed what."""
    return await in_session(
        request,
        lambda session: service.list_audit(
            session,
            actor=actor,
            object_type=object_type,
            object_key=object_key,
            limit=limit,
            cursor=cursor,
        ),
    )
