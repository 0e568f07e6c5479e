"""The blob store: every file modelyard keeps, on the local disk or in an object store.

Artifacts (``artifacts/sha256/ab/<sha256>``), datasets' Parquet (``datasets/files/<key>.parquet``),
the parts of resumable uploads (``datasets/uploads/<id>/<offset>-<length>.part``), report files
(``reports/<id>/report.<format>``) and deployment run reports
(``reports/deployments/<id>/report.<ext>``) are blobs: written once, whole or not at all,
then read. Two backends implement :class:`BlobStore`:

* :class:`LocalBlobStore`, the embedded default: ``MODELYARD_HOME`` itself, so an existing
  home keeps its layout;
* :class:`S3BlobStore`: any S3-compatible store, ``MODELYARD_STORAGE__URL=s3://bucket/prefix``
  with ``MODELYARD_STORAGE__ENDPOINT_URL``, ``__REGION``, ``__ACCESS_KEY_ID`` and
  ``__SECRET_ACCESS_KEY`` (or the usual ``AWS_*`` variables), so that servers and workers on
  machines that share no disk see the same files.

The store is opened once per process (:func:`open_store`, from the app's lifespan, the
worker, the CLI) and reaches code through ``app.state.store`` and the job context. Local
scratch space (uploads while they arrive and are checked, an artifact being hashed, the
artifact cache of a worker) stays on each machine under ``<home>/tmp`` and ``<home>/cache``:
nothing there is ever needed by another machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from modelyard.config import Settings
from modelyard.storage._base import (
    BlobInfo,
    BlobMissing,
    BlobStore,
    ParquetBlob,
    StoreUnavailable,
    check_key,
)
from modelyard.storage._local import LocalBlobStore
from modelyard.storage._responses import blob_response
from modelyard.storage._startup import check_at_start

__all__ = [
    "BlobInfo",
    "BlobMissing",
    "BlobStore",
    "LocalBlobStore",
    "ParquetBlob",
    "StoreUnavailable",
    "blob_response",
    "check_at_start",
    "check_key",
    "open_store",
]


def open_store(settings: Settings) -> BlobStore:
    """The store the settings name: the home directory, or ``storage.url`` (``s3://``)."""
    storage = settings.storage
    if not storage.url or storage.url.startswith("file:"):
        root = settings.home if not storage.url else Path(urlsplit(storage.url).path)
        return LocalBlobStore(root, scratch=settings.scratch_dir)
    if storage.url.startswith("s3://"):
        from modelyard.storage._s3 import S3BlobStore

        secret = storage.secret_access_key
        return S3BlobStore(
            storage.url,
            scratch=settings.scratch_dir,
            endpoint_url=storage.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL"),
            region=storage.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION"),
            access_key_id=storage.access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            connect_timeout=storage.connect_timeout_seconds,
            request_timeout=storage.request_timeout_seconds,
            attempts=storage.attempts,
        )
    raise ValueError(
        f"MODELYARD_STORAGE__URL={storage.url!r} is not supported: use s3://bucket/prefix "
        "(or leave it unset to keep files under MODELYARD_HOME)."
    )
