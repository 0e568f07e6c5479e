"""Dataset pages: the list, one dataset with its schema and first rows, and the upload form.

The upload form works as a plain POST: ``POST /datasets/upload`` hands the request body to
the datasets domain's multipart receiver, which writes the file part to disk as it arrives
(constant memory), then ``datasets.service.register_file`` checks and converts it. With
JavaScript, ``static/datasets.js`` sends the file through the datasets API's resumable
uploads instead (chunks, a progress bar, retries from where the server stands), with the
same page session, and shows the server's message in the page if the upload is refused.

Here the role is checked before the body is read. The CSRF token comes in the
``X-CSRF-Token`` header or as the form's first field; the body is only read once, so without
the header the token is checked after the file has arrived, and the file is deleted if it
does not match. The browser's ``Origin`` is checked first either way.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Principal, Role
from modelyard.datasets import service as datasets_service
from modelyard.datasets.receive import dataset_upload_limit, receive_multipart
from modelyard.datasets.schemas import DATASET_NAME_PATTERN, PreviewOut
from modelyard.datasets.store import DatasetStore
from modelyard.kit.body_limit import large_body
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import ProblemError
from modelyard.web._pager import pager
from modelyard.web._render import NAV, SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import (
    CSRF_FIELD,
    CSRF_HEADER,
    PageError,
    PageUser,
    csrf_token_for,
    page_principal,
    same_origin,
    session_secret,
)

router = APIRouter()
NAV.append(("Datasets", "/datasets"))

PAGE_SIZE = 50
PREVIEW_ROWS = 20
DatasetId = Annotated[int, Path(ge=1, le=2**62)]


def _store(request: Request) -> DatasetStore:
    store: DatasetStore = request.app.state.datasets
    return store


@router.get("/datasets")
def dataset_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
) -> Response:
    """List datasets, newest first."""
    context = _list_context(request, session, q=q, cursor=cursor, back=back)
    template = "datasets/_table.html" if is_htmx(request) else "datasets/list.html"
    return render(request, template, context, user=user)


def _list_context(
    request: Request, session: Session, *, q: str = "", cursor: str | None = None, back: str = ""
) -> dict[str, Any]:
    page = datasets_service.list_datasets(
        session, q=q.strip() or None, limit=PAGE_SIZE, cursor=cursor or None
    )
    filters = {"q": q} if q else {}
    return {
        "datasets": page.items,
        "q": q,
        "max_bytes": request.app.state.settings.storage.max_dataset_bytes,
        "upload_values": {},
        "upload_error": "",
        **pager("/datasets", filters, cursor=cursor, back=back, next_cursor=page.next_cursor),
    }


def _refused_upload(
    request: Request, user: Principal, fields: dict[str, str], status_code: int, detail: str
) -> Response:
    """The list page again with the refusal by the upload button and what was typed kept
    (a browser never keeps the chosen file itself)."""
    with request.app.state.db.session() as session:
        context = _list_context(request, session)
    context["upload_values"] = {
        key: fields.get(key, "")[:10_000] for key in ("name", "description", "format")
    }
    context["upload_error"] = detail
    return render(request, "datasets/list.html", context, user=user, status_code=status_code)


@router.get("/datasets/{dataset_id}")
def dataset_page(
    request: Request, dataset_id: DatasetId, user: PageUser, session: DbSession
) -> Response:
    """Show a dataset: its schema and first rows."""
    dataset = datasets_service.get(session, dataset_id)
    preview: PreviewOut | None = None
    preview_error = ""
    try:
        preview = datasets_service.preview(_store(request), dataset, PREVIEW_ROWS)
    except ProblemError as exc:  # the file is gone or unreadable: still show what is known
        preview_error = exc.detail
    context = {
        "dataset": datasets_service.dataset_out(dataset),
        "preview": preview,
        "preview_error": preview_error,
    }
    return render(request, "datasets/detail.html", context, user=user)


def _token_matches(submitted: str, expected: str) -> bool:
    return bool(submitted) and hmac.compare_digest(submitted.encode(), expected.encode())


@router.post("/datasets/upload")
@large_body(dataset_upload_limit, "MODELYARD_STORAGE__MAX_DATASET_BYTES")
async def upload_dataset(request: Request) -> Response:
    """Upload a dataset file from the form, streaming it to disk, then show the dataset."""
    user = await run_in_threadpool(page_principal, request)
    if not user.can(Role.editor):
        raise PageError(403, "Forbidden", f"This needs the editor role; you are {user.role.value}.")
    if not same_origin(request):
        raise PageError(
            403, "Forbidden", "This form was sent from another site; reload the page and retry."
        )
    expected = csrf_token_for(session_secret(request) or "")
    header = request.headers.get(CSRF_HEADER, "")
    stale = PageError(
        403,
        "Forbidden",
        "The form's security token is missing or stale; reload the page and try again.",
    )
    if header and not _token_matches(header, expected):
        raise stale
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise PageError(415, "Unsupported form", "Send the upload form as multipart/form-data.")
    settings = request.app.state.settings
    store = _store(request)
    try:
        received = await receive_multipart(
            request, store.temp_path(), max_bytes=settings.storage.max_dataset_bytes
        )
    except ClientDisconnect as exc:
        raise PageError(
            400, "Upload broken", "The connection broke during the upload; nothing was stored."
        ) from exc
    try:
        if not _token_matches(header or received.fields.get(CSRF_FIELD, ""), expected):
            raise stale
        name = received.fields.get("name", "").strip() or None
        bad_name = name is not None and not re.fullmatch(DATASET_NAME_PATTERN, name)
    except BaseException:
        store.discard(received.path)
        raise
    if bad_name:
        store.discard(received.path)
        return await run_in_threadpool(
            _refused_upload,
            request,
            user,
            received.fields,
            400,
            "A dataset name is 1-200 letters, digits, _ . or -, starting with a letter or "
            "digit; or leave it empty to use the file's name.",
        )
    fields = received.fields
    try:
        result = await run_in_threadpool(
            lambda: datasets_service.register_received(
                request.app.state.db,
                store,
                received,
                name=name,
                description=fields.get("description", "").strip(),
                format=fields.get("format") or None,
                compression=fields.get("compression") or None,
                actor=user.name,
            )
        )
    except ProblemError as exc:
        if exc.status_code >= 500 or is_htmx(request):
            raise
        return await run_in_threadpool(
            _refused_upload, request, user, fields, exc.status_code, exc.detail
        )
    target = f"/datasets/{result.id}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target, **SECURITY_HEADERS})
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
