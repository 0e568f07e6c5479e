"""The blob store on a local directory: ``MODELYARD_HOME`` itself, so the files keep the
places they always had (``artifacts/sha256/...``, ``datasets/files/...``, ``reports/...``).

A blob is written to a temporary file under ``<home>/tmp`` and renamed into place, so a
reader sees all of it or nothing, and a crash leaves at most a temporary file (swept by
``modelyard artifacts gc``). Renames need the temporary directory on the same filesystem as
the store, which holds for any directory inside the home.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from modelyard.storage._base import (
    _SEGMENT,
    BlobInfo,
    BlobMissing,
    BlobStore,
    StoreUnavailable,
    check_key,
    check_prefix,
)


class LocalBlobStore(BlobStore):
    is_local = True

    def __init__(self, root: Path, scratch: Path | None = None) -> None:
        self.root = root
        self.scratch = scratch or root / "tmp"
        self.url = f"file://{root.resolve()}"

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _partial(self) -> Path:
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch / f"blob-{uuid.uuid4().hex}.partial"

    def _publish(self, partial: Path, key: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, target)

    # --- writing ---------------------------------------------------------------------------

    def put_file(self, key: str, source: Path, *, move: bool = False) -> None:
        check_key(key)
        if move:
            try:
                self._publish(source, key)
                return
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        with self.writer(key) as out, source.open("rb") as handle:
            shutil.copyfileobj(handle, out, 1 << 20)

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        check_key(key)
        partial = self._partial()
        try:
            with partial.open("wb") as out:
                yield out
            self._publish(partial, key)
        finally:
            partial.unlink(missing_ok=True)

    # --- reading ---------------------------------------------------------------------------

    def stat(self, key: str) -> BlobInfo | None:
        try:
            found = self.path(key).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(key, found.st_size, found.st_mtime)

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise BlobMissing(f"No blob '{key}' in the store at {self.url}.") from exc

    def parquet_source(self, key: str) -> Any:
        path = self.path(key)
        if not path.is_file():
            raise BlobMissing(f"No blob '{key}' in the store at {self.url}.")
        return str(path)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    # --- listing and deleting ----------------------------------------------------------------

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        prefix = check_prefix(prefix)
        top = self.root / prefix if prefix else self.root
        if not top.is_dir():
            return
        for directory, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if _SEGMENT.match(d))
            base = Path(directory)
            for name in sorted(files):
                if not _SEGMENT.match(name):
                    continue
                path = base / name
                try:
                    found = path.stat()
                except FileNotFoundError:
                    continue
                key = path.relative_to(self.root).as_posix()
                yield BlobInfo(key, found.st_size, found.st_mtime)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    # --- health ------------------------------------------------------------------------------

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"The data directory {self.root} cannot be used: {exc}") from exc
        if not os.access(self.root, os.W_OK):
            raise StoreUnavailable(f"The data directory {self.root} is not writable.")
