"""Response compression: brotli where the client accepts it, else gzip, else none.

Starlette's gzip middleware already decides what to compress (not small bodies, not media
that is compressed already, never ``text/event-stream``, so a live stream is not held back
waiting for a compressor's buffer) and streams bodies chunk by chunk; brotli here is one more
:class:`~starlette.middleware.gzip.IdentityResponder` beside its gzip one. A response that set
its own ``Content-Encoding`` (the pre-compressed static files) passes through untouched.
"""

from __future__ import annotations

import brotli
from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CompressionMiddleware", "accepted_encoding"]

MINIMUM_SIZE = 500
"""Below this many bytes a compressed body saves less than its headers and the CPU cost."""
BROTLI_QUALITY = 5
"""Dynamic responses: about gzip-9's size at a fraction of its time; static files use 11."""


def accepted_encoding(accept_encoding: str) -> str | None:
    """``br``, ``gzip`` or ``None`` from an ``Accept-Encoding`` header, ``q=0`` meaning no."""
    accepted: set[str] = set()
    for part in accept_encoding.lower().split(","):
        token, _, params = part.strip().partition(";")
        quality = params.strip()
        if quality.startswith("q="):
            try:
                if float(quality[2:]) <= 0:
                    continue
            except ValueError:
                continue
        accepted.add(token.strip())
    for encoding in ("br", "gzip"):
        if encoding in accepted:
            return encoding
    return None


class BrotliResponder(IdentityResponder):
    content_encoding = "br"

    def __init__(self, app: ASGIApp, minimum_size: int) -> None:
        super().__init__(app, minimum_size)
        self._compressor: brotli.Compressor | None = None

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if self._compressor is None:
            self._compressor = brotli.Compressor(quality=BROTLI_QUALITY)
        out: bytes = self._compressor.process(body)
        # flush() after every chunk of a stream: the client gets each chunk as it is sent
        out += self._compressor.flush() if more_body else self._compressor.finish()
        return out


class CompressionMiddleware:
    def __init__(self, app: ASGIApp, minimum_size: int = MINIMUM_SIZE) -> None:
        self.app = app
        self.minimum_size = minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = accepted_encoding(Headers(scope=scope).get("accept-encoding", ""))
        responder: IdentityResponder
        if encoding == "br":
            responder = BrotliResponder(self.app, self.minimum_size)
        elif encoding == "gzip":
            responder = GZipResponder(self.app, self.minimum_size, compresslevel=6)
        else:
            responder = IdentityResponder(self.app, self.minimum_size)
        await responder(scope, receive, send)
