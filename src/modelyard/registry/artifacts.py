"""Content-addressed artifacts in the blob store: ``artifacts/sha256/ab/abcdef...``.

An upload is staged first: hashed while it streams to a temporary file in this machine's
scratch directory (:meth:`ArtifactStore.stage`). The caller checks it there (flavor,
parameters) and promotes it into the store under its hash (:meth:`~ArtifactStore.promote`)
only once the version row that names it is written, just before the commit; on any refusal
it discards the staged file. So a refused upload (a pickle, a file over the limit, a flavor
that does not load, a bad model name) leaves nothing behind, and a blob another version
already uses is never touched: a promote of the same content writes identical bytes again.

What can still be left is a blob no version names: its version was deleted (two versions may
share one blob, so deleting a version never deletes its blob), or the commit failed after the
promote. :meth:`~ArtifactStore.collect_garbage` removes those past a grace period; the grace
keeps it off a blob that an upload in flight has just promoted and not yet committed (a
promote rewrites the blob, so its time is fresh; the blob's time is read again just before
it is removed, which leaves a window of one request between that read and the removal).

Loading a model needs a file: on the local store that is the blob itself; from an object
store, :meth:`~ArtifactStore.open` keeps a copy under ``<home>/cache`` (checked against its
hash, the least recently used copies dropped past ``storage.artifact_cache_bytes``).

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

from modelyard.config import Settings
from modelyard.kit.archives import ArchiveLimits
from modelyard.kit.errors import BadRequest, NotFound, PayloadTooLarge, note_path
from modelyard.kit.security import PICKLE_REFUSAL, looks_like_pickle
from modelyard.storage import BlobMissing, BlobStore

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
PREFIX = "artifacts/sha256"
CHUNK = 1 << 20
MULTIPART_SLACK_BYTES = 1 << 20
"""A multipart upload's metadata and boundaries, on top of the artifact's own limit."""


def artifact_upload_limit(settings: Settings) -> int:
    """The body limit of a version upload with its artifact."""
    return settings.storage.max_artifact_bytes + MULTIPART_SLACK_BYTES


@dataclass(frozen=True)
class StagedArtifact:
    """An upload received and hashed but not yet in the store; ``path`` is its temporary file."""

    sha256: str
    size: int
    path: Path
    filename: str | None


@dataclass(frozen=True)
class Garbage:
    """Something the store no longer needs: an unreferenced blob (``key``), or a temporary
    file a crashed upload left in the scratch directory (``key`` is its path)."""

    key: str
    size: int
    age_seconds: float


def blob_key(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise NotFound("No such artifact.")
    return f"{PREFIX}/{sha256[:2]}/{sha256}"


class ArtifactStore:
    def __init__(
        self,
        store: BlobStore,
        *,
        scratch: Path,
        cache: Path,
        archive_limits: ArchiveLimits,
        cache_bytes: int = 10 << 30,
    ) -> None:
        self.store = store
        self.scratch = scratch
        self.cache = cache / "artifacts"
        self.cache_bytes = cache_bytes
        self.archive_limits = archive_limits
        """What an archive artifact (a skops zip) may unpack to: checked before it is loaded."""

    @classmethod
    def of(cls, store: BlobStore, settings: Settings) -> ArtifactStore:
        return cls(
            store,
            scratch=settings.scratch_dir,
            cache=settings.cache_dir,
            cache_bytes=settings.storage.artifact_cache_bytes,
            archive_limits=ArchiveLimits(
                members=settings.storage.max_artifact_members,
                unpacked_bytes=settings.storage.max_artifact_unpacked_bytes,
                metadata_bytes=settings.storage.max_artifact_metadata_bytes,
            ),
        )

    def open(self, sha256: str) -> Path:
        """A local file with the blob's bytes, to load a model from."""
        key = blob_key(sha256)
        local = self.store.local_path(key)
        if local is not None:
            if not local.is_file():
                raise NotFound(f"The artifact {sha256[:12]}... is missing from the store.")
            return local
        cached = self.cache / sha256
        if cached.is_file():
            os.utime(cached)  # recently used: the last to be dropped
            return cached
        try:
            self.store.get_file(key, cached)
        except BlobMissing as exc:
            raise NotFound(
                f"The artifact {sha256[:12]}... is missing from the store {self.store.url}."
            ) from exc
        if _sha256_of(cached) != sha256:
            cached.unlink(missing_ok=True)
            raise NotFound(
                f"The artifact {sha256[:12]}... in the store {self.store.url} does not match "
                "its hash; it was changed outside modelyard."
            )
        self._trim_cache(keep=cached)
        return cached

    def stream(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes in pieces, for a download (a missing blob raises at once)."""
        try:
            return self.store.iter_bytes(blob_key(sha256))
        except BlobMissing as exc:
            raise NotFound(f"The artifact {sha256[:12]}... is missing from the store.") from exc

    def _trim_cache(self, *, keep: Path) -> None:
        entries = []
        for path in self.cache.iterdir():
            if path.is_file() and _SHA256.match(path.name):
                info = path.stat()
                entries.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.cache_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

    def stage(
        self, source: BinaryIO | Iterable[bytes], *, max_bytes: int, filename: str | None
    ) -> StagedArtifact:
        """Receive a stream into a temporary file and hash it. Raises 400 on a pickle and 413
        past ``max_bytes``, leaving no file; otherwise :meth:`promote` or :meth:`discard` it."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.scratch, prefix="artifact-")
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
        except BaseException as exc:
            note_path(exc, tmp_name)
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StagedArtifact(digest.hexdigest(), size, Path(tmp_name), filename)

    def promote(self, staged: StagedArtifact) -> str:
        """Put a staged upload into the store under its hash (the same content may already be
        there: it is written again, which refreshes its time). Returns its key."""
        key = blob_key(staged.sha256)
        self.store.put_file(key, staged.path, move=True)
        return key

    def discard(self, staged: StagedArtifact) -> None:
        """Drop a staged upload; after :meth:`promote` there may be nothing left to drop."""
        staged.path.unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, int, float]]:
        """(sha256, size, time written) of every blob in the store."""
        for info in self.store.list(PREFIX):
            name = info.key.rsplit("/", 1)[-1]
            if _SHA256.match(name) and info.key == blob_key(name):
                yield name, info.size, info.mtime

    def collect_garbage(
        self,
        referenced: set[str],
        *,
        grace_seconds: float,
        dry_run: bool = True,
        now: float | None = None,
    ) -> list[Garbage]:
        """Blobs not in ``referenced`` and temporary files in the scratch directory, last
        written over ``grace_seconds`` ago; removed unless ``dry_run``. Returns what was (or
        would be) removed.

        A blob's time is read again just before it is removed: an upload that promoted the
        same content after ``referenced`` was read wrote it afresh, and it is kept.
        """
        now = time.time() if now is None else now
        found: list[Garbage] = []
        for sha, size, mtime in list(self.blobs()):
            if sha in referenced or now - mtime < grace_seconds:
                continue
            key = blob_key(sha)
            if not dry_run:
                current = self.store.stat(key)
                if current is None or now - current.mtime < grace_seconds:
                    continue
                self.store.delete(key)
            found.append(Garbage(key, size, now - mtime))
        if self.scratch.is_dir():
            for path in sorted(self.scratch.iterdir()):
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue
                if not path.is_file() or now - info.st_mtime < grace_seconds:
                    continue
                if not dry_run:
                    path.unlink(missing_ok=True)
                found.append(Garbage(str(path), info.st_size, now - info.st_mtime))
        return found


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
