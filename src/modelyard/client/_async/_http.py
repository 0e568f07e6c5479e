"""The HTTP layer every resource uses: retries, problems as exceptions, pages, streams.

:class:`AsyncRetryTransport` wraps an httpx transport and retries by the
:class:`~modelyard.client._retry.RetryPolicy`; being a transport, it also retries the
requests of a stream or a download before their body is read. :class:`AsyncHttp` sends a
request and turns what comes back into the server's schemas, or raises
:class:`~modelyard.client.ApiError` / :class:`~modelyard.client.ConnectionFailed`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from modelyard.client._errors import ApiError, ConnectionFailed, ModelyardError
from modelyard.client._retry import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    RetryPolicy,
    parse_retry_after,
)
from modelyard.client._sse import EventDecoder, ServerEvent

ModelT = TypeVar("ModelT", bound=BaseModel)
Params = Mapping[str, Any]
Progress = Callable[[int, int], None]

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _replayable(request: httpx.Request) -> bool:
    return isinstance(request.stream, httpx.ByteStream)


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """Retries connections that fail and answers 429/503, waiting as the policy says."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError as exc:
                retryable = isinstance(exc, _NOT_SENT) or (
                    request.method in IDEMPOTENT_METHODS and _replayable(request)
                )
                delay = self._policy.delay(attempt, None) if retryable else None
                if delay is None:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or not _replayable(request):
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                delay = self._policy.delay(attempt, retry_after)
                if delay is None:
                    return response
                await response.aclose()
            attempt += 1
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _params(params: Params | None) -> dict[str, Any] | None:
    """Query parameters without the ``None`` values (a list repeats the parameter)."""
    if params is None:
        return None
    return {key: value for key, value in params.items() if value is not None}


def _describe(exc: httpx.TransportError, url: str) -> str:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        reason = str(exc) or type(exc).__name__
        return f"Cannot reach the modelyard server at {url} ({reason}); is it running, and is the URL right?"
    if isinstance(exc, httpx.TimeoutException):
        return f"The modelyard server at {url} did not answer in time ({type(exc).__name__})."
    return f"The connection to the modelyard server at {url} broke ({type(exc).__name__}: {exc})."


class AsyncHttp:
    """Requests against one server; everything a resource needs."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url

    async def _raise_for_problem(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        try:
            body: object = response.json()
        except ValueError:
            body = None
        raise ApiError.from_body(
            response.status_code,
            body,
            method=response.request.method,
            url=str(response.request.url),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send one request; a problem answer is raised as :class:`ApiError`."""
        try:
            response = await self.http.request(
                method,
                path,
                params=_params(params),
                json=json,
                content=content,
                files=files,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            raise ConnectionFailed(_describe(exc, self.url), url=self.url) from exc
        await self._raise_for_problem(response)
        return response

    async def call(self, out: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        response = await self.request(method, path, **kwargs)
        return out.model_validate(self._json(response))

    async def call_list(
        self, item: type[ModelT], method: str, path: str, **kwargs: Any
    ) -> list[ModelT]:
        response = await self.request(method, path, **kwargs)
        return TypeAdapter(list[item]).validate_python(self._json(response))  # type: ignore[valid-type]

    async def call_json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._json(await self.request(method, path, **kwargs))

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ModelyardError(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code} with {response.headers.get('content-type', 'no type')}, "
                "not JSON; is the URL that of a modelyard server?"
            ) from exc

    async def paginate(
        self,
        item: type[ModelT],
        path: str,
        params: Params | None = None,
        *,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncIterator[ModelT]:
        """Every item of a cursor-paged list, fetching a page at a time; at most ``limit``."""
        query = dict(params or {})
        query["limit"] = min(page_size, limit) if limit else page_size
        served = 0
        while True:
            page = await self.call_json("GET", path, params=query)
            for raw in page["items"]:
                yield item.model_validate(raw)
                served += 1
                if limit is not None and served >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor or not page["items"]:
                return
            query["cursor"] = cursor

    async def events(
        self,
        path: str,
        params: Params | None = None,
        *,
        last_event_id: str | None = None,
        reconnect: Callable[[ServerEvent | None], bool] = lambda _: False,
    ) -> AsyncIterator[ServerEvent]:
        """A server-sent event stream; after a broken connection, resumes where it stopped
        (``Last-Event-ID``) when ``reconnect(last_event)`` says so."""
        decoder = EventDecoder()
        decoder.last_event_id = last_event_id
        last: ServerEvent | None = None
        while True:
            headers = {"Accept": "text/event-stream"}
            if decoder.last_event_id:
                headers["Last-Event-ID"] = decoder.last_event_id
            timeout = httpx.Timeout(30.0, read=None)
            try:
                async with self.http.stream(
                    "GET", path, params=_params(params), headers=headers, timeout=timeout
                ) as response:
                    await self._raise_for_problem(response)
                    async for line in response.aiter_lines():
                        event = decoder.feed(line.rstrip("\r"))
                        if event is not None:
                            last = event
                            yield event
                return
            except httpx.TransportError as exc:
                if not reconnect(last):
                    raise ConnectionFailed(_describe(exc, self.url), url=self.url) from exc

    async def download(
        self,
        path: str,
        destination: Path | IO[bytes],
        *,
        sha256: str | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Stream a response body into a file; returns its size.

        A path is written whole or not at all (through ``<name>.part``). With ``sha256``, a
        body that hashes otherwise raises :class:`ModelyardError`, and a path is not written.
        ``progress(bytes_so_far, total)`` follows it (total 0 when the server does not say).
        """
        timeout = httpx.Timeout(30.0, read=300.0)
        digest = hashlib.sha256()
        partial = None
        try:
            async with self.http.stream("GET", path, timeout=timeout) as response:
                await self._raise_for_problem(response)
                total = int(response.headers.get("Content-Length") or 0)
                report = (lambda done: progress(done, total)) if progress else None
                if isinstance(destination, Path):
                    partial = destination.with_name(destination.name + ".part")
                    with partial.open("wb") as handle:
                        size = await _copy(response, handle, digest, report)
                else:
                    size = await _copy(response, destination, digest, report)
            if sha256 is not None and digest.hexdigest() != sha256:
                raise ModelyardError(
                    f"{path} arrived with SHA-256 {digest.hexdigest()}, not {sha256}; "
                    "nothing was kept."
                    if partial is not None
                    else f"{path} arrived with SHA-256 {digest.hexdigest()}, not {sha256}."
                )
            if partial is not None and isinstance(destination, Path):
                partial.replace(destination)
            return size
        except httpx.TransportError as exc:
            raise ConnectionFailed(_describe(exc, self.url), url=self.url) from exc
        finally:
            if partial is not None:
                partial.unlink(missing_ok=True)


async def _copy(
    response: httpx.Response,
    handle: IO[bytes],
    digest: Any,
    report: Callable[[int], None] | None,
) -> int:
    size = 0
    async for chunk in response.aiter_bytes(1 << 20):
        handle.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        if report:
            report(size)
    return size


class ReadProgress:
    """A binary file whose reads report ``progress(bytes_read, total)``: an upload's progress,
    since httpx reads a streamed file as it sends it."""

    def __init__(self, handle: IO[bytes], total: int, progress: Progress) -> None:
        self._handle = handle
        self._total = total
        self._progress = progress
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._done += len(chunk)
        self._progress(self._done, self._total)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._handle.seek(offset, whence)
        self._done = position
        return position

    def tell(self) -> int:
        return self._handle.tell()
