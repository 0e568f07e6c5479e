"""The blob store on an S3-compatible object store, through pyarrow's S3 filesystem.

pyarrow is already how modelyard reads and writes Parquet, and its S3 filesystem (the AWS C++
SDK) reads a Parquet file by byte ranges (coalesced a row group at a time with
``pre_buffer``) and writes by multipart upload in the background, so no second S3 client
is needed (``bench/storage_clients.py`` measures it against obstore and s3fs).

Every write goes through a complete local file: :meth:`put_file` streams it as a multipart
upload, and :meth:`writer` spools to a temporary file under the scratch directory first. A
pyarrow output stream that is closed after a failure would publish what it had so far, so
nothing is ever streamed to S3 from code that can still change its mind; an upload that
the network breaks is never completed, and S3 keeps nothing of it (a lifecycle rule that
aborts incomplete multipart uploads reclaims their parts).

Errors: a missing object is :class:`BlobMissing`; anything else the store or the network
says (refused connection, time-out, 403 for wrong credentials, a missing bucket) is
:class:`StoreUnavailable`, a 503 that names the store and the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from modelyard.storage._base import (
    COPY_BYTES,
    BlobInfo,
    BlobMissing,
    BlobStore,
    StoreUnavailable,
    check_key,
    check_prefix,
)

if TYPE_CHECKING:
    import pyarrow.fs as pafs

_CREDENTIAL_ERRORS = (
    "ACCESS_DENIED",
    "INVALID_ACCESS_KEY_ID",
    "SIGNATURE_DOES_NOT_MATCH",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// URL: {url!r} (expected s3://bucket or s3://bucket/prefix)")
    prefix = parts.path.strip("/")
    if prefix:
        check_prefix(prefix)
    return parts.netloc, prefix


class S3BlobStore(BlobStore):
    def __init__(
        self,
        url: str,
        *,
        scratch: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 60.0,
        attempts: int = 3,
    ) -> None:
        # pyarrow (about 30 MB) loads only when an object store is configured.
        import pyarrow.fs as pafs

        self.bucket, self.prefix = parse_s3_url(url)
        self.url = url.rstrip("/")
        self.scratch = scratch
        options: dict[str, Any] = {
            "region": region or "us-east-1",
            "connect_timeout": connect_timeout,
            "request_timeout": request_timeout,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=attempts),
            "allow_delayed_open": True,  # a small blob is one PutObject, not three calls
        }
        if endpoint_url:
            endpoint = urlsplit(endpoint_url)
            options["endpoint_override"] = endpoint.netloc or endpoint_url
            options["scheme"] = endpoint.scheme or "https"
            self.url = f"{self.url} at {endpoint_url}"
        if access_key_id:
            options["access_key"] = access_key_id
            options["secret_key"] = secret_access_key or ""
        self.fs: pafs.S3FileSystem = pafs.S3FileSystem(**options)

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self.bucket}/{self.prefix}/{key}" if self.prefix else f"{self.bucket}/{key}"

    def _key(self, path: str) -> str:
        base = f"{self.bucket}/{self.prefix}/" if self.prefix else f"{self.bucket}/"
        return path[len(base) :]

    @contextmanager
    def errors(self, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except (BlobMissing, StoreUnavailable):
            raise
        except FileNotFoundError as exc:
            raise BlobMissing(f"No blob '{key}' in the object store {self.url}.") from exc
        except OSError as exc:
            raise self.unavailable(exc) from exc

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        reason = " ".join(str(exc).split())
        if any(marker in reason for marker in _CREDENTIAL_ERRORS):
            return StoreUnavailable(
                f"The object store {self.url} refused the server's credentials ({reason}); "
                "check MODELYARD_STORAGE__ACCESS_KEY_ID and MODELYARD_STORAGE__SECRET_ACCESS_KEY "
                "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).",
                misconfigured=True,
            )
        return StoreUnavailable(f"The object store {self.url} is unavailable: {reason}")

    # --- writing ---------------------------------------------------------------------------

    def put_file(self, key: str, source: Path, *, move: bool = False) -> None:
        path = self._path(key)
        with source.open("rb") as handle, self.errors(key):
            out = self.fs.open_output_stream(path)
            try:
                while chunk := handle.read(COPY_BYTES):
                    out.write(chunk)
            except BaseException:
                # Closing publishes what was written; take it back (the key is the caller's).
                with suppress(OSError):
                    out.close()
                with suppress(OSError):
                    self.fs.delete_file(path)
                raise
            out.close()

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        check_key(key)
        self.scratch.mkdir(parents=True, exist_ok=True)
        spool = self.scratch / f"blob-{uuid.uuid4().hex}.partial"
        try:
            with spool.open("wb") as out:
                yield out
            self.put_file(key, spool)
        finally:
            spool.unlink(missing_ok=True)

    # --- reading ---------------------------------------------------------------------------

    def stat(self, key: str) -> BlobInfo | None:
        import pyarrow.fs as pafs

        with self.errors(key):
            info = self.fs.get_file_info(self._path(key))
        if info.type != pafs.FileType.File:
            return None
        return BlobInfo(key, int(info.size or 0), _seconds(info.mtime))

    def open(self, key: str) -> IO[bytes]:
        with self.errors(key):
            return cast(IO[bytes], _Reader(self, key, self.fs.open_input_file(self._path(key))))

    def parquet_source(self, key: str) -> Any:
        with self.errors(key):
            return self.fs.open_input_file(self._path(key))

    # --- listing and deleting ----------------------------------------------------------------

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        import pyarrow.fs as pafs

        prefix = check_prefix(prefix)
        base = self._path(prefix) if prefix else (f"{self.bucket}/{self.prefix}".rstrip("/"))
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        with self.errors(prefix):
            infos = self.fs.get_file_info(selector)
        found = [
            BlobInfo(self._key(info.path), int(info.size or 0), _seconds(info.mtime))
            for info in infos
            if info.type == pafs.FileType.File
        ]
        yield from sorted(found, key=lambda blob: blob.key)

    def delete(self, key: str) -> None:
        with self.errors(key), suppress(FileNotFoundError):
            self.fs.delete_file(self._path(key))

    # --- health ------------------------------------------------------------------------------

    def check(self) -> None:
        import pyarrow.fs as pafs

        with self.errors():
            info = self.fs.get_file_info(self.bucket)
        if info.type == pafs.FileType.NotFound:
            raise StoreUnavailable(
                f"The bucket '{self.bucket}' does not exist in the object store {self.url}; "
                "create it first.",
                misconfigured=True,
            )
        # HEAD on a bucket may pass where reads are refused (anonymous access, a policy on
        # the prefix): list the prefix itself, which needs the credentials to be right.
        with self.errors():
            self.fs.get_file_info(
                pafs.FileSelector(
                    f"{self.bucket}/{self.prefix}".rstrip("/"),
                    recursive=False,
                    allow_not_found=True,
                )
            )


class _Reader:
    """A pyarrow input file whose errors say which store failed."""

    def __init__(self, store: S3BlobStore, key: str, handle: Any) -> None:
        self._store = store
        self._key = key
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        with self._store.errors(self._key):
            return bytes(self._handle.read(None if size < 0 else size))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._handle.seek(offset, whence))

    def tell(self) -> int:
        return int(self._handle.tell())

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._handle.close()

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _seconds(mtime: Any) -> float:
    if mtime is None:
        return 0.0
    return float(mtime.timestamp())
