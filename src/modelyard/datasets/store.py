"""Where dataset bytes live: blobs in the store, and this machine's scratch files.

In the blob store, ``datasets/files/<key>.parquet`` holds each registered dataset (``key`` is
random, recorded on the row) and ``datasets/uploads/<id>/<offset>-<length>.part`` each chunk
of a resumable upload that fully arrived, so that any server process, on any machine, can
take the next chunk and complete the upload. Single-request uploads arrive into the scratch
directory (``<home>/tmp``) and are checked and converted there before the Parquet file is put
into the store. Every key is built from a validated hex key, so no client-supplied name
ever reaches the store or the file system.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from contextlib import suppress
from pathlib import Path

from modelyard.config import Settings
from modelyard.datasets.formats import IngestLimits
from modelyard.kit.errors import NotFound, PayloadTooLarge, note_path
from modelyard.storage import BlobMissing, BlobStore, ParquetBlob

_KEY = re.compile(r"^[0-9a-f]{32}$")
_PART = re.compile(r"^(\d{16})-(\d{16})\.part$")
HASH_CHUNK = 1 << 20


def new_key() -> str:
    return uuid.uuid4().hex


def is_key(value: str) -> bool:
    return bool(_KEY.match(value))


class DatasetStore:
    def __init__(self, store: BlobStore, scratch: Path, limits: IngestLimits) -> None:
        self.store = store
        self.scratch = scratch
        self.limits = limits
        """What reading one upload may cost (decompressed bytes, rows, Parquet metadata)."""

    @classmethod
    def of(cls, store: BlobStore, settings: Settings) -> DatasetStore:
        return cls(store, settings.scratch_dir, IngestLimits.of(settings))

    # --- registered datasets -----------------------------------------------------------------

    def file_key(self, key: str) -> str:
        if not is_key(key):
            raise NotFound("No such dataset file.")
        return f"datasets/files/{key}.parquet"

    def parquet(self, key: str) -> ParquetBlob:
        """The dataset's Parquet file to read; raises 404 when the store does not have it."""
        blob = ParquetBlob(self.store, self.file_key(key))
        if not self.store.exists(blob.key):
            raise NotFound(
                f"The dataset's file {blob.key} is missing from the store {self.store.url}."
            )
        return blob

    def put(self, key: str, local: Path) -> int:
        """Store a checked Parquet file (moved when the store is local); its size."""
        size = local.stat().st_size
        self.store.put_file(self.file_key(key), local, move=True)
        return size

    def delete(self, key: str) -> None:
        self.store.delete(self.file_key(key))

    # --- scratch -----------------------------------------------------------------------------

    def temp_path(self, suffix: str = "upload") -> Path:
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch / f"dataset-{new_key()}.{suffix}"

    @staticmethod
    def discard(path: Path) -> None:
        with suppress(FileNotFoundError):
            path.unlink()

    # --- resumable uploads -------------------------------------------------------------------

    def _upload_prefix(self, upload_id: str) -> str:
        if not is_key(upload_id):
            raise NotFound(f"No upload '{upload_id}'.")
        return f"datasets/uploads/{upload_id}"

    def put_part(self, upload_id: str, offset: int, length: int, local: Path) -> None:
        """Store a chunk that fully arrived. Two tries of the same chunk write the same key;
        a chunk that did not count (its offset moved on meanwhile) is ignored on assembly."""
        key = f"{self._upload_prefix(upload_id)}/{offset:016d}-{length:016d}.part"
        self.store.put_file(key, local, move=True)

    def assemble(self, upload_id: str, size: int, target: Path) -> str:
        """Write the upload's first ``size`` bytes to ``target`` from its parts, in order;
        returns their sha256. Parts are chosen as a chain from offset 0 to ``size``: chunks that
        broke off or lost a race leave parts that fit no chain (or fit one with the same bytes)."""
        parts: dict[int, list[tuple[int, str]]] = {}
        for info in self.store.list(self._upload_prefix(upload_id)):
            match = _PART.match(info.key.rsplit("/", 1)[-1])
            if match:
                start, length = int(match[1]), int(match[2])
                if info.size == length:
                    parts.setdefault(start, []).append((length, info.key))
        chain = _chain(parts, size)
        if chain is None:
            raise NotFound(
                f"The parts of upload '{upload_id}' are missing from the store {self.store.url}; "
                "start the upload again."
            )
        digest = hashlib.sha256()
        try:
            with target.open("wb") as out:
                for key in chain:
                    try:
                        pieces = self.store.iter_bytes(key, HASH_CHUNK * 8)
                    except BlobMissing as exc:
                        raise NotFound(
                            f"A part of upload '{upload_id}' disappeared from the store; "
                            "start the upload again."
                        ) from exc
                    for piece in pieces:
                        digest.update(piece)
                        out.write(piece)
        except BaseException:
            self.discard(target)
            raise
        return digest.hexdigest()

    def delete_upload(self, upload_id: str) -> None:
        self.store.delete_prefix(self._upload_prefix(upload_id))


def _chain(parts: dict[int, list[tuple[int, str]]], size: int) -> list[str] | None:
    """Keys of parts that cover [0, size) end to end (longest first at each offset)."""
    if size == 0:
        return []

    def walk(offset: int, seen: set[int]) -> list[str] | None:
        for length, key in sorted(parts.get(offset, []), reverse=True):
            end = offset + length
            if end == size:
                return [key]
            if end < size and end not in seen:
                rest = walk(end, seen | {end})
                if rest is not None:
                    return [key, *rest]
        return None

    return walk(0, {0})


class HashingWriter:
    """Append bytes to a file while hashing them, refusing to pass ``max_bytes``."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        self._file = path.open("wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"The dataset is larger than the configured limit of {self.max_bytes} bytes "
                "(MODELYARD_STORAGE__MAX_DATASET_BYTES)."
            )
        self._digest.update(data)
        try:
            self._file.write(data)
        except OSError as exc:
            note_path(exc, self.path)
            raise

    def close(self) -> str:
        self._file.close()
        return self._digest.hexdigest()

    def abort(self) -> None:
        # Closing flushes the buffer, which fails again on a full disk: the file goes anyway.
        with suppress(OSError):
            self._file.close()
        with suppress(FileNotFoundError):
            self.path.unlink()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
