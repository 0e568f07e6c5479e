"""Analytics endpoints: leaderboards, read from the scores index (see ``service.leaderboard``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelyard.analytics import service
from modelyard.analytics.schemas import Leaderboard
from modelyard.auth.deps import Viewer
from modelyard.kit.deps import DbSession

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/leaderboard", response_model=Leaderboard)
def leaderboard(
    _: Viewer,
    session: DbSession,
    dataset: Annotated[str, Query(max_length=200, description="A dataset id or name.")],
    metric: Annotated[str, Query(max_length=64)] = "mape",
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> Leaderboard:
    """Rank model versions on a dataset by a metric (each version's latest evaluation)."""
    return service.leaderboard(session, dataset, metric, limit)
