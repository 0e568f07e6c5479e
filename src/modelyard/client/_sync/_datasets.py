# Generated from ../_async/_datasets.py by scripts/unasync.py: edit that file, then run it.
"""Datasets: resumable uploads with progress, listing, preview, delete."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from modelyard.client._errors import ApiError, ConnectionFailed, UploadFailed
from modelyard.client._refs import segment
from modelyard.client._sync._http import Http
from modelyard.datasets.schemas import (
    DatasetOut,
    PreviewOut,
    UploadComplete,
    UploadCreate,
    UploadOut,
)

DEFAULT_CHUNK_BYTES = 16 << 20
CHUNK_RETRIES = 8


class _Hasher:
    """SHA-256 of a file's first ``done`` bytes, fed in order from what was sent or re-read."""

    def __init__(self, path: Path, chunk_bytes: int) -> None:
        self.digest = hashlib.sha256()
        self.done = 0
        self._path = path
        self._chunk_bytes = chunk_bytes

    def up_to(self, end: int, chunk: bytes = b"", start: int = -1) -> None:
        if start == self.done and start + len(chunk) == end:
            self.digest.update(chunk)
            self.done = end
            return
        with self._path.open("rb") as behind:
            behind.seek(self.done)
            while self.done < end:
                block = behind.read(min(self._chunk_bytes, end - self.done))
                if not block:
                    break
                self.digest.update(block)
                self.done += len(block)


class Datasets:
    """``client.datasets``: upload CSV, Parquet or JSON Lines (plain, gzip, zstd) and read them."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def upload(
        self,
        file: Path | str,
        *,
        name: str | None = None,
        description: str = "",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        resume: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        on_retry: Callable[[str], None] | None = None,
        retries: int = CHUNK_RETRIES,
        backoff_seconds: float = 0.5,
    ) -> DatasetOut:
        """Upload a file in resumable chunks; ``progress(sent_bytes, total_bytes)`` after each.

        After a broken connection, a timeout or a 5xx the server is asked how much arrived
        and the upload goes on from there (``retries`` failures in a row give up, raising
        :class:`UploadFailed` with the id that ``resume=`` continues). The file's SHA-256 is
        computed on the way and checked by the server when the upload completes.
        """
        path = Path(file)
        size = path.stat().st_size
        if resume:
            upload = self.get_upload(resume)
        else:
            body = UploadCreate(filename=path.name, size=size or None, description=description)
            if name:
                body.name = name
            upload = self._http.call(
                UploadOut,
                "POST",
                "/api/datasets/uploads",
                json=body.model_dump(exclude_none=True),
            )
        offset = upload.received
        hasher = _Hasher(path, chunk_bytes)
        hasher.up_to(offset)
        if progress:
            progress(offset, size)
        failures = 0
        with path.open("rb") as source:
            while offset < size:
                source.seek(offset)
                chunk = source.read(chunk_bytes)
                try:
                    sent = self._http.call(
                        UploadOut,
                        "PUT",
                        f"/api/datasets/uploads/{segment(upload.id)}",
                        params={"offset": offset},
                        content=chunk,
                        headers={"Content-Type": "application/octet-stream"},
                    )
                except (ConnectionFailed, ApiError) as exc:
                    if isinstance(exc, ApiError) and exc.status < 500 and exc.status != 409:
                        raise
                    failures += 1
                    if failures > retries:
                        raise UploadFailed(
                            f"The upload failed {failures} times in a row ({exc}); resume it "
                            f"later with the upload id {upload.id}.",
                            upload.id,
                        ) from exc
                    if on_retry:
                        on_retry(str(exc))
                    time.sleep(backoff_seconds * failures)
                    try:
                        offset = (self.get_upload(upload.id)).received
                    except ConnectionFailed:
                        continue
                    hasher.up_to(offset)
                    if progress:
                        progress(offset, size)
                    continue
                hasher.up_to(sent.received, chunk, offset)
                offset = sent.received
                failures = 0
                if progress:
                    progress(offset, size)
        return self._http.call(
            DatasetOut,
            "POST",
            f"/api/datasets/uploads/{segment(upload.id)}/complete",
            json=UploadComplete(sha256=hasher.digest.hexdigest()).model_dump(),
            timeout=httpx.Timeout(30.0, read=None),
        )

    def get_upload(self, upload_id: str) -> UploadOut:
        return self._http.call(UploadOut, "GET", f"/api/datasets/uploads/{segment(upload_id)}")

    def abort_upload(self, upload_id: str) -> None:
        self._http.request("DELETE", f"/api/datasets/uploads/{segment(upload_id)}")

    def list(
        self, *, q: str | None = None, page_size: int = 100, limit: int | None = None
    ) -> Iterator[DatasetOut]:
        """Datasets, newest first (``q``: a substring of the name)."""
        return self._http.paginate(
            DatasetOut, "/api/datasets", {"q": q}, page_size=page_size, limit=limit
        )

    def get(self, dataset: int | str) -> DatasetOut:
        """A dataset by id, or by its exact name."""
        return self._http.call(DatasetOut, "GET", f"/api/datasets/{self._id(dataset)}")

    def preview(self, dataset: int | str, *, limit: int = 20) -> PreviewOut:
        return self._http.call(
            PreviewOut,
            "GET",
            f"/api/datasets/{self._id(dataset)}/preview",
            params={"limit": limit},
        )

    def delete(self, dataset: int | str) -> None:
        self._http.request("DELETE", f"/api/datasets/{self._id(dataset)}")

    def _id(self, dataset: int | str) -> int:
        if isinstance(dataset, int) or dataset.isdigit():
            return int(dataset)
        for item in self._http.paginate(DatasetOut, "/api/datasets", {"q": dataset}):
            if item.name == dataset:
                return item.id
        raise ApiError(404, "Not found", f"No dataset named {dataset!r}.")
