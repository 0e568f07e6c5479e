"""A blob as an HTTP response: the file itself from the local store (sendfile, ranges),
streamed from an object store in pieces (never whole in memory)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from starlette.responses import FileResponse, Response, StreamingResponse

from modelyard.storage._base import BlobMissing, BlobStore

STREAM_BYTES = 1 << 20


def blob_response(
    store: BlobStore,
    key: str,
    *,
    media_type: str,
    headers: Mapping[str, str] | None = None,
    filename: str | None = None,
) -> Response:
    """Raises :class:`BlobMissing` before any byte is sent when there is no such blob."""
    local = store.local_path(key)
    if local is not None:
        if not local.is_file():
            raise BlobMissing(f"No blob '{key}' in the store at {store.url}.")
        return FileResponse(local, media_type=media_type, headers=headers, filename=filename)
    info = store.stat(key)
    if info is None:
        raise BlobMissing(f"No blob '{key}' in the object store {store.url}.")
    all_headers = {**(headers or {}), "Content-Length": str(info.size)}
    if filename is not None:  # the header FileResponse writes for the local store
        quoted = quote(filename)
        all_headers["Content-Disposition"] = (
            f'attachment; filename="{filename}"'
            if quoted == filename
            else f"attachment; filename*=utf-8''{quoted}"
        )
    return StreamingResponse(
        store.iter_bytes(key, STREAM_BYTES), media_type=media_type, headers=all_headers
    )
