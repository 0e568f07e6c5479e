"""Stream a request body to this machine's scratch disk with constant memory: a multipart
form, raw bytes, or one chunk of a resumable upload (which then goes to the blob store).

Starlette's ``request.form()`` spools a file part into a temporary file and the endpoint
would then copy it again; here python-multipart's low-level parser is fed the body as it
arrives and the file part's bytes go straight into a :class:`HashingWriter` (in 1 MB writes
on a worker thread, so the event loop never blocks on the disk). Small text fields
(``name``, ``format``...) are collected alongside.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from modelyard.config import Settings
from modelyard.datasets.store import HashingWriter
from modelyard.kit.errors import BadRequest, PayloadTooLarge, note_path
from modelyard.kit.security import plain_filename

WRITE_BYTES = 1 << 20
MULTIPART_SLACK_BYTES = 1 << 20
"""A multipart upload's form fields and boundaries, on top of the file's own limit."""
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 16


@dataclass
class Received:
    path: Path
    sha256: str
    size: int
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)


class _Buffered:
    """Collect small writes and hand them to the writer's thread in large pieces."""

    def __init__(self, writer: HashingWriter) -> None:
        self.writer = writer
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def add(self, data: bytes) -> None:
        self.pending.append(data)
        self.pending_bytes += len(data)

    async def flush(self, force: bool = False) -> None:
        if self.pending_bytes >= WRITE_BYTES or (force and self.pending):
            data = b"".join(self.pending)
            self.pending = []
            self.pending_bytes = 0
            await run_in_threadpool(self.writer.write, data)


def dataset_upload_limit(settings: Settings) -> int:
    """The body limit of a single-request dataset upload (raw or multipart)."""
    return settings.storage.max_dataset_bytes + MULTIPART_SLACK_BYTES


def _check_length(request: Request, max_bytes: int) -> None:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + (1 << 20):
        raise PayloadTooLarge(
            f"The upload is larger than the configured limit of {max_bytes} bytes "
            "(MODELYARD_STORAGE__MAX_DATASET_BYTES)."
        )


async def receive_raw(
    request: Request, target: Path, *, max_bytes: int, filename: str | None
) -> Received:
    """The whole body is the file (``application/octet-stream``)."""
    _check_length(request, max_bytes)
    writer = HashingWriter(target, max_bytes=max_bytes)
    buffered = _Buffered(writer)
    try:
        async for chunk in request.stream():
            buffered.add(chunk)
            await buffered.flush()
        await buffered.flush(force=True)
        sha256 = await run_in_threadpool(writer.close)
    except BaseException:
        writer.abort()
        raise
    return Received(target, sha256, writer.size, plain_filename(filename))


class _FormReceiver:
    """Callbacks for python-multipart's parser: text fields in memory, the file to disk."""

    def __init__(self, target: Path, max_bytes: int) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.writer: HashingWriter | None = None
        self.buffered: _Buffered | None = None
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._is_file = False
        self._data = bytearray()
        self._field_bytes = 0
        self.file_complete = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._name = ""
        self._is_file = False
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in params:
            if self._name != "file":
                raise BadRequest(
                    f"Unexpected file in the form field `{self._name}`; send the dataset as `file`."
                )
            if self.writer is not None:
                raise BadRequest("Send one file per request, in the form field `file`.")
            self.filename = plain_filename(params[b"filename"].decode("utf-8", "replace"))
            self.writer = HashingWriter(self.target, max_bytes=self.max_bytes)
            self.buffered = _Buffered(self.writer)
            self._is_file = True
        elif len(self.fields) >= MAX_FIELDS:
            raise BadRequest(f"Too many form fields (at most {MAX_FIELDS}).")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            assert self.buffered is not None
            self.buffered.add(data[start:end])
            return
        self._field_bytes += end - start
        if self._field_bytes > MAX_FIELD_BYTES:
            raise BadRequest("The form's text fields are too large.")
        self._data.extend(data[start:end])

    def on_part_end(self) -> None:
        if self._is_file:
            self.file_complete = True
        else:
            self.fields[self._name] = self._data.decode("utf-8", "replace")


async def receive_multipart(request: Request, target: Path, *, max_bytes: int) -> Received:
    """Parse ``multipart/form-data`` as it streams; the part named ``file`` goes to disk."""
    _check_length(request, max_bytes)
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart request has no boundary in its Content-Type header.")
    form = _FormReceiver(target, max_bytes)
    try:
        parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise BadRequest(f"The multipart body is malformed: {exc}.") from exc
            if form.buffered is not None:
                await form.buffered.flush()
        try:
            parser.finalize()
        except FormParserError as exc:
            raise BadRequest(f"The multipart body is malformed: {exc}.") from exc
        if form.writer is None or form.buffered is None:
            raise BadRequest("The multipart form needs the dataset file in the field `file`.")
        if not form.file_complete:
            raise BadRequest(
                "The multipart body ended inside the file (no closing boundary); send it again."
            )
        await form.buffered.flush(force=True)
        sha256 = await run_in_threadpool(form.writer.close)
    except BaseException:
        if form.writer is not None:
            form.writer.abort()
        raise
    return Received(target, sha256, form.writer.size, form.filename, form.fields)


async def receive_chunk(request: Request, target: Path, *, offset: int, limit: int) -> int:
    """Write the body to ``target`` (a scratch file); returns its length.

    A chunk that stops short of its Content-Length, loses its connection or would take the
    upload past ``limit`` raises and leaves no file: it is not counted, and the client
    resumes from the upload's ``received``.
    """
    length = 0
    pending: list[bytes] = []
    pending_bytes = 0
    out = await run_in_threadpool(target.open, "wb")
    try:
        try:
            async for piece in request.stream():
                length += len(piece)
                if offset + length > limit:
                    raise BadRequest(
                        f"This chunk would take the upload past {limit} bytes (its announced "
                        "size or the configured limit MODELYARD_STORAGE__MAX_DATASET_BYTES)."
                    )
                pending.append(piece)
                pending_bytes += len(piece)
                if pending_bytes >= WRITE_BYTES:
                    await run_in_threadpool(out.write, b"".join(pending))
                    pending, pending_bytes = [], 0
        except ClientDisconnect as exc:
            raise BadRequest(
                "The connection broke during this chunk; resume from `received`."
            ) from exc
        if pending:
            await run_in_threadpool(out.write, b"".join(pending))
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != length:
            raise BadRequest(
                f"The chunk ended after {length} of its {declared} bytes; send it again."
            )
        await run_in_threadpool(out.close)
    except BaseException as exc:
        note_path(exc, target)
        # Closing flushes the buffer, which fails again on a full disk: the file goes anyway.
        with suppress(OSError):
            out.close()
        target.unlink(missing_ok=True)
        raise
    return length
