"""Output shapes of the analytics endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class LeaderboardEntry(BaseModel):
    rank: int
    model: str
    version: int
    value: float
    evaluation_id: int
    evaluated_at: dt.datetime | None


class Leaderboard(BaseModel):
    dataset: str
    metric: str
    direction: str
    entries: list[LeaderboardEntry]
