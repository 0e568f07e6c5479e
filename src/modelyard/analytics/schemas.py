"""Output shapes of the analytics endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class LeaderboardEntry(BaseModel):
    rank: int = Field(description="1 for the best value.")
    model: str = Field(description="The model's name.")
    version: int = Field(description="The version's number.")
    value: float = Field(description="Its value of the metric on the dataset.")
    evaluation_id: int = Field(description="The evaluation that measured it.")
    evaluated_at: dt.datetime | None = Field(description="When that evaluation finished (UTC).")


class Leaderboard(BaseModel):
    dataset: str = Field(description="The dataset every entry was evaluated on.")
    metric: str = Field(description="The metric ranked.")
    direction: str = Field(description="lower or higher: which way is better.")
    entries: list[LeaderboardEntry] = Field(description="Each version's latest value, best first.")
