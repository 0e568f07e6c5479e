"""``/static``: the stylesheet, the app scripts and the vendored libraries.

Page templates link every asset with a ``?v=`` that changes with the release, the vendored
versions and the files' own times (:func:`modelyard.web._render.static_url`), so a request that
carries the current ``v`` gets ``immutable`` for a year: the browser never asks again, and the
next release links new URLs. Other requests (an old ``v``, none) may be cached for an hour.

Text assets are compressed once per file (brotli at its best quality, gzip at level 9) and kept
in memory, keyed by the file's size and time; a request that accepts one of the encodings gets
those bytes with ``Content-Encoding`` set, which the compression middleware passes through.
"""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import brotli
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from modelyard.kit.compression import accepted_encoding

YEAR = 365 * 86400
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".html", ".txt", ".map", ".webmanifest"}
_MAX_COMPRESSED = 4 * 1024 * 1024
"""Larger files are sent as they are (none of ours is near this)."""


class _Compressed:
    """``{(path, size, mtime): {"br": bytes, "gzip": bytes}}``, filled on first request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, int, int], dict[str, bytes]] = {}

    def get(self, path: str, stat_result: os.stat_result, encoding: str) -> bytes | None:
        if stat_result.st_size > _MAX_COMPRESSED or Path(path).suffix not in COMPRESSIBLE:
            return None
        key = (path, stat_result.st_size, stat_result.st_mtime_ns)
        with self._lock:
            found = self._items.get(key)
        if found is None:
            raw = Path(path).read_bytes()
            found = {
                "br": brotli.compress(raw, quality=11),
                "gzip": gzip.compress(raw, compresslevel=9, mtime=0),
            }
            with self._lock:
                self._items = {k: v for k, v in self._items.items() if k[0] != path}
                self._items[key] = found
        return found[encoding]


class CachedStaticFiles(StaticFiles):
    def __init__(self, *, directory: str | os.PathLike[str], version: str) -> None:
        super().__init__(directory=directory)
        self.version = version
        self._compressed = _Compressed()

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        request_headers = Headers(scope=scope)
        query = scope.get("query_string", b"").decode("latin-1")
        current = f"v={self.version}" in query.split("&")
        cache_control = f"public, max-age={YEAR}, immutable" if current else "public, max-age=3600"
        encoding = accepted_encoding(request_headers.get("accept-encoding", ""))
        body = (
            self._compressed.get(str(full_path), stat_result, encoding)
            if encoding and status_code == 200
            else None
        )
        if body is None:
            response = super().file_response(full_path, stat_result, scope, status_code)
        else:
            plain = super().file_response(full_path, stat_result, scope, status_code)
            if plain.status_code == 304:  # the browser's copy is current (If-None-Match)
                response = plain
            else:
                response = Response(body, status_code=status_code, media_type=plain.media_type)
                # the plain file's ETag names other bytes; Last-Modified still revalidates
                if "last-modified" in plain.headers:
                    response.headers["Last-Modified"] = plain.headers["last-modified"]
                response.headers["Content-Encoding"] = encoding or ""
        if Path(full_path).suffix in COMPRESSIBLE:
            response.headers["Vary"] = "Accept-Encoding"
        response.headers["Cache-Control"] = cache_control
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
