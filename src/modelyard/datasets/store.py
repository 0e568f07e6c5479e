"""Where dataset bytes live under ``<home>/datasets``.

``files/<key>.parquet`` holds each registered dataset (``key`` is random, recorded on the
row); ``uploads/<id>.part`` the bytes of a resumable upload so far; ``tmp/`` single-request
uploads while they arrive and are checked. Every path is built from a validated hex key, so
no client-supplied name ever reaches the file system.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from contextlib import suppress
from pathlib import Path

from modelyard.kit.errors import NotFound, PayloadTooLarge

_KEY = re.compile(r"^[0-9a-f]{32}$")
HASH_CHUNK = 1 << 20


def new_key() -> str:
    return uuid.uuid4().hex


def is_key(value: str) -> bool:
    return bool(_KEY.match(value))


class DatasetStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def file_path(self, key: str) -> Path:
        if not is_key(key):
            raise NotFound("No such dataset file.")
        return self._dir("files") / f"{key}.parquet"

    def open(self, key: str) -> Path:
        path = self.file_path(key)
        if not path.is_file():
            raise NotFound("The dataset's file is missing from the store; upload it again.")
        return path

    def upload_path(self, upload_id: str) -> Path:
        if not is_key(upload_id):
            raise NotFound(f"No upload '{upload_id}'.")
        return self._dir("uploads") / f"{upload_id}.part"

    def temp_path(self) -> Path:
        return self._dir("tmp") / f"{new_key()}.upload"

    def delete(self, path: Path) -> None:
        with suppress(FileNotFoundError):
            path.unlink()


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
        self._file.write(data)

    def close(self) -> str:
        self._file.close()
        return self._digest.hexdigest()

    def abort(self) -> None:
        self._file.close()
        with suppress(FileNotFoundError):
            self.path.unlink()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def append_at(fd: int, offset: int) -> None:
    """Drop whatever a broken chunk left past ``offset`` and position the file there."""
    os.ftruncate(fd, offset)
    os.lseek(fd, offset, os.SEEK_SET)
