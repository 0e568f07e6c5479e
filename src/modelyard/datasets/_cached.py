"""Dataset previews through the shared cache.

A dataset's stored Parquet file never changes once registered (a new upload is a new dataset
with a new ``storage_key``), so its first rows are a pure function of the storage key and the
row count asked for: that is the key, and an entry is never stale. Reading them costs a
Parquet open and the decoding of the first row group (tens of milliseconds on a million-row
file, more when it is not in the page cache). The dataset row itself (which says whether the
dataset still exists, and its columns) is read from the database on every request.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from modelyard.cache import Cache
from modelyard.datasets import service
from modelyard.datasets.store import DatasetStore
from modelyard.kit.db import Database
from modelyard.kit.responses import json_bytes

__all__ = ["PREVIEW", "cached_preview"]

PREVIEW = "datasets.preview"


async def cached_preview(
    database: Database, cache: Cache, store: DatasetStore, dataset_id: int, limit: int
) -> bytes:
    """The preview's JSON body: the dataset's columns from the database, its first rows from
    the cache."""

    def current() -> tuple[str, bytes]:
        with database.session() as session:
            dataset = service.get(session, dataset_id)
            return dataset.storage_key, json_bytes(dataset.columns)

    storage_key, columns = await run_in_threadpool(current)

    def rows() -> bytes:
        with database.session() as session:
            return json_bytes(service.preview(store, service.get(session, dataset_id), limit).rows)

    body = await cache.get_or_compute(PREVIEW, f"{storage_key}:{limit}", rows)
    return b'{"dataset":%d,"columns":%s,"rows":%s}' % (dataset_id, columns, body)
