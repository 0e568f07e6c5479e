"""Pre-serialised JSON for hot paths: orjson bytes skip FastAPI's ``jsonable_encoder``.

Endpoints that return these still declare ``response_model`` so that the OpenAPI document
(and the schemathesis run over it) knows the shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_bytes(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def json_response(
    payload: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json_bytes(payload), status_code=status_code, media_type="application/json", headers=headers
    )
