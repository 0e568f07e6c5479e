"""Content-addressed artifact storage: ``<home>/artifacts/sha256/ab/abcdef...``.

An upload is staged first: hashed while it streams to a temporary file under ``tmp/`` in the
same tree (:meth:`ArtifactStore.stage`). The caller checks it there (flavor, parameters) and
promotes it under its hash (:meth:`~ArtifactStore.promote`) only once the version row that
names it is written, just before the commit; on any refusal it discards the staged file. So
a refused upload (a pickle, a file over the limit, a flavor that does not load, a bad model
name) leaves nothing behind, and a blob another version already uses is never touched: a
promote of the same content replaces it with identical bytes.

What can still be left is a blob no version names: its version was deleted (two versions may
share one blob, so deleting a version never deletes its blob), or the commit failed after the
promote. :meth:`~ArtifactStore.collect_garbage` removes those past a grace period; the grace
keeps it off a blob that an upload in flight has just promoted and not yet committed.

Files that are pickles (or joblib dumps, which are pickles) are refused: loading one runs
arbitrary code.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from modelyard.kit.errors import BadRequest, NotFound, PayloadTooLarge
from modelyard.kit.security import PICKLE_REFUSAL, looks_like_pickle

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


@dataclass(frozen=True)
class StagedArtifact:
    """An upload received and hashed but not yet in the store; ``path`` is its temporary file."""

    sha256: str
    size: int
    path: Path
    filename: str | None


@dataclass(frozen=True)
class Garbage:
    """A file the store no longer needs: an unreferenced blob or a stale temporary file."""

    path: Path
    size: int
    age_seconds: float


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def _tmp_dir(self) -> Path:
        return self.root / "tmp"

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound("No such artifact.")
        return self.root / "sha256" / sha256[:2] / sha256

    def open(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFound(f"The artifact {sha256[:12]}... is missing from the store.")
        return path

    def stage(
        self, source: BinaryIO | Iterable[bytes], *, max_bytes: int, filename: str | None
    ) -> StagedArtifact:
        """Receive a stream into a temporary file and hash it. Raises 400 on a pickle and 413
        past ``max_bytes``, leaving no file; otherwise :meth:`promote` or :meth:`discard` it."""
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                chunks = (
                    iter(lambda: source.read(CHUNK), b"")
                    if hasattr(source, "read")
                    else iter(source)
                )
                first = True
                for chunk in chunks:
                    if first:
                        if looks_like_pickle(chunk[:16], filename):
                            raise BadRequest(PICKLE_REFUSAL)
                        first = False
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"The artifact is larger than the configured limit of {max_bytes} bytes "
                            "(MODELYARD_STORAGE__MAX_ARTIFACT_BYTES)."
                        )
                    digest.update(chunk)
                    out.write(chunk)
                if first and filename is not None and looks_like_pickle(b"", filename):
                    raise BadRequest(PICKLE_REFUSAL)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StagedArtifact(digest.hexdigest(), size, Path(tmp_name), filename)

    def promote(self, staged: StagedArtifact) -> Path:
        """Move a staged upload under its hash (atomic; the same content may already be there)."""
        final = self.path_for(staged.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, final)
        return final

    def discard(self, staged: StagedArtifact) -> None:
        """Drop a staged upload; after :meth:`promote` there is nothing left to drop."""
        staged.path.unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, Path]]:
        """(sha256, path) of every blob in the store."""
        top = self.root / "sha256"
        if not top.is_dir():
            return
        for prefix in sorted(top.iterdir()):
            if not prefix.is_dir():
                continue
            for path in sorted(prefix.iterdir()):
                if _SHA256.match(path.name) and path.name[:2] == prefix.name:
                    yield path.name, path

    def collect_garbage(
        self, referenced: set[str], *, grace_seconds: float, dry_run: bool = True
    ) -> list[Garbage]:
        """Blobs not in ``referenced`` and temporary files, last written over
        ``grace_seconds`` ago; removed unless ``dry_run``. Returns what was (or would be) removed.

        A blob is first renamed aside and its age read again there: an upload that promoted the
        same content after ``referenced`` was read put a fresh file in place, and that file is
        put back instead of removed.
        """
        now = time.time()
        found: list[Garbage] = []
        candidates: list[Path] = [path for sha, path in self.blobs() if sha not in referenced]
        if self._tmp_dir.is_dir():
            candidates += sorted(p for p in self._tmp_dir.iterdir() if p.is_file())
        for path in candidates:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if now - stat.st_mtime < grace_seconds:
                continue
            if not dry_run and not self._remove(path, now, grace_seconds):
                continue
            found.append(Garbage(path, stat.st_size, now - stat.st_mtime))
        return found

    def _remove(self, path: Path, now: float, grace_seconds: float) -> bool:
        if path.parent == self._tmp_dir:
            path.unlink(missing_ok=True)
            return True
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        aside = self._tmp_dir / f"gc-{path.name}"
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return False
        if now - aside.stat().st_mtime < grace_seconds:
            os.replace(aside, path)
            return False
        aside.unlink()
        return True
