"""A model's metric trend through the shared cache, keyed by a generation of its evaluations.

The trend lists, per version and dataset, the latest succeeded evaluation of a model. A
succeeded evaluation is written once and never changed or deleted; what can still change is
its link to a version (``version_id`` becomes NULL when the version or the model is deleted,
and the trend joins on it). ``count``, ``sum(id)`` and ``sum(version_id)`` of the model's
succeeded evaluations (one query on the ``model_name`` index) therefore move with every
write that changes the trend, in whichever process it was made, and they are in the key, with
the model's id (a model deleted and created again under its name is another model). So a
cached trend is never older than the data the request saw, on ``mem://`` as on Redis.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelyard.cache import Cache
from modelyard.datasets import service as datasets_service
from modelyard.evaluations import service
from modelyard.kit.db import Database
from modelyard.models import Evaluation, RegisteredModel
from modelyard.registry import service as registry_service

__all__ = ["TREND", "cached_trend", "trend_key"]

TREND = "evaluations.trend"


def trend_key(
    session: Session, model: str, metric: str, dataset: str | None
) -> tuple[int | None, str]:
    """The dataset's id (if one was named) and the cache key of the trend right now."""
    model_id = session.scalar(sa.select(RegisteredModel.id).where(RegisteredModel.name == model))
    if model_id is None:
        registry_service.get_model(session, model)  # raises the registry's own 404
    dataset_id = datasets_service.get_by_reference(session, dataset).id if dataset else None
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(Evaluation.id), 0),
        sa.func.coalesce(sa.func.sum(Evaluation.version_id), 0),
    ).where(Evaluation.model_name == model, Evaluation.status == "succeeded")
    if dataset_id is not None:
        query = query.where(Evaluation.dataset_id == dataset_id)
    count, id_sum, version_sum = session.execute(query).one()
    return dataset_id, f"{model_id}:{model}:{metric}:{dataset_id}:{count}:{id_sum}:{version_sum}"


async def cached_trend(
    database: Database, cache: Cache, model: str, metric: str, dataset: str | None
) -> bytes:
    """The trend's JSON body, from the cache while the model's evaluations are unchanged."""

    def key() -> tuple[int | None, str]:
        with database.session() as session:
            return trend_key(session, model, metric, dataset)

    dataset_id, cache_key = await run_in_threadpool(key)

    def compute() -> bytes:
        with database.session() as session:
            reference = str(dataset_id) if dataset_id is not None else None
            return service.trend(session, model, metric, reference).model_dump_json().encode()

    return await cache.get_or_compute(TREND, cache_key, compute)
