"""Analytics endpoints: leaderboards (answered from the shared cache, see ``_cached``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from modelyard.analytics._cached import cached_leaderboard
from modelyard.analytics.schemas import Leaderboard
from modelyard.auth.deps import Viewer

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/leaderboard", response_model=Leaderboard)
async def leaderboard(
    request: Request,
    _: Viewer,
    dataset: Annotated[str, Query(max_length=200, description="A dataset id or name.")],
    metric: Annotated[str, Query(max_length=64)] = "mape",
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> Response:
    """Rank model versions on a dataset by a metric (each version's latest evaluation)."""
    body = await cached_leaderboard(
        request.app.state.db, request.app.state.cache, dataset, metric, limit
    )
    return Response(body, media_type="application/json")
