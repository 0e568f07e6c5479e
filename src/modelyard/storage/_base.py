"""The blob store's contract: keys, what a blob is, the errors, and the abstract store."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from modelyard.kit.errors import NotFound, ServiceUnavailable

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]{0,200}$")
COPY_BYTES = 8 << 20
RETRY_AFTER_SECONDS = 5


class StoreUnavailable(ServiceUnavailable):
    """The store cannot be reached or refused the server's credentials: a 503, never the
    client's fault, and the request or job can be tried again once the store is back."""

    def __init__(self, detail: str, *, misconfigured: bool = False) -> None:
        super().__init__(detail, retry_after=RETRY_AFTER_SECONDS)
        self.misconfigured = misconfigured
        """The settings are wrong (credentials, bucket): waiting will not help."""


class BlobMissing(NotFound):
    """No blob under that key: it was never written, or it was deleted."""


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    mtime: float
    """Seconds since the epoch when the blob was last written."""


def check_key(key: str) -> str:
    """``key`` if it is a relative path of plain segments (letters, digits, ``_ . = -``, not
    starting with a dot), else ValueError: no key ever walks out of the store or into a
    temporary file."""
    parts = key.split("/")
    if not parts or not all(_SEGMENT.match(part) for part in parts):
        raise ValueError(f"not a blob key: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    if prefix:
        check_key(prefix.rstrip("/"))
    return prefix.rstrip("/")


@dataclass(frozen=True)
class ParquetBlob:
    """A Parquet blob to read by ranges: :meth:`open` gives a ``pyarrow.parquet.ParquetFile``
    (with ``pre_buffer`` on an object store, so a row group's columns come in few requests)."""

    store: BlobStore
    key: str

    def open(self) -> Any:
        import pyarrow.parquet as pq

        with self.store.errors(self.key):
            return pq.ParquetFile(
                self.store.parquet_source(self.key), pre_buffer=not self.store.is_local
            )

    def batches(self, parquet: Any, **options: Any) -> Iterator[Any]:
        """``parquet.iter_batches(**options)`` with the store's failures named
        (:meth:`BlobStore.errors`) rather than pyarrow's bare ``OSError``."""
        iterator = parquet.iter_batches(**options)
        while True:
            with self.store.errors(self.key):
                batch = next(iterator, None)
            if batch is None:
                return
            yield batch


class BlobStore(ABC):
    """Every file the product keeps, by key (``artifacts/sha256/ab/ab12...``,
    ``datasets/files/<key>.parquet``, ``reports/7/report.html``...).

    A blob appears whole or not at all: :meth:`writer` and :meth:`put_file` publish it only
    when the bytes are complete, and a failure part-way leaves nothing under the key. Blobs
    are written once and read many times; nothing is ever updated in place.
    """

    url: str
    """Where the store is, for messages and logs (never with credentials)."""

    is_local: bool = False

    # --- writing ---------------------------------------------------------------------------

    @abstractmethod
    def put_file(self, key: str, source: Path, *, move: bool = False) -> None:
        """Store the file ``source`` under ``key``. With ``move`` the file may be moved rather
        than copied (the caller deletes it afterwards either way, if it still exists)."""

    @abstractmethod
    def writer(self, key: str) -> AbstractContextManager[IO[bytes]]:
        """A binary file to write; the blob appears under ``key`` when the block exits
        cleanly, and nothing does if it raises."""

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.writer(key) as out:
            out.write(data)

    # --- reading ---------------------------------------------------------------------------

    @abstractmethod
    def stat(self, key: str) -> BlobInfo | None:
        """The blob's size and time, or None when there is none."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """The blob for reading, seekable; raises :class:`BlobMissing`."""

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as handle:
            return handle.read()

    def iter_bytes(self, key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        """The blob in pieces, for streaming it out; opens it at once (so a missing blob
        raises here, not in the middle of a response)."""
        handle = self.open(key)

        def pieces() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(chunk_bytes):
                    yield chunk

        return pieces()

    def get_file(self, key: str, target: Path) -> None:
        """Copy the blob to a local file (written beside ``target`` and renamed into place)."""
        partial = target.with_name(f".{target.name}.partial")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.open(key) as source, partial.open("wb") as out:
                while chunk := source.read(COPY_BYTES):
                    out.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)

    @abstractmethod
    def parquet_source(self, key: str) -> Any:
        """What ``pyarrow.parquet.ParquetFile`` reads the blob from, by ranges (a path, or a
        pyarrow random-access file). Raises :class:`BlobMissing`."""

    def local_path(self, key: str) -> Path | None:
        """The blob's path when the store is a local directory, else None."""
        return None

    # --- listing and deleting ----------------------------------------------------------------

    @abstractmethod
    def list(self, prefix: str) -> Iterator[BlobInfo]:
        """Every blob under ``prefix`` (a folder-like key), in key order."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob; nothing happens when there is none."""

    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    @contextmanager
    def errors(self, key: str | None = None) -> Iterator[None]:
        """Around code that reads a blob through another library (pyarrow reading a Parquet
        file by ranges): a missing blob becomes :class:`BlobMissing`, and on an object store a
        failure of the store :class:`StoreUnavailable`, naming the store."""
        try:
            yield
        except FileNotFoundError as exc:
            raise BlobMissing(f"No blob '{key}' in the store at {self.url}.") from exc

    # --- health ------------------------------------------------------------------------------

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store answers and takes the credentials."""
