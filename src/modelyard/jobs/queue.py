"""The Huey side: one Huey instance per queue, one Huey task that runs a job by id.

Backends: ``SqliteHuey`` in ``<home>/queue.db`` (the embedded default, WAL with
``synchronous=NORMAL``: the jobs table, not this file, is the source of truth),
``PriorityRedisHuey`` when Redis is configured, ``PostgresHuey`` (tables prefixed
``modelyard_queue`` in the main database) on request. Messages are JSON, never pickle: a
message is only ``(job id, Huey's bookkeeping)``, so nothing a user sends is ever
deserialised by the queue.

Huey's priority is the job's priority scaled, minus its fairness rank (see
:func:`queue_priority`); Huey orders equal priorities first-in, first-out.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from typing import Any

import orjson

from modelyard.config import Settings
from modelyard.jobs._huey import (
    Huey,
    Message,
    PostgresHuey,
    PriorityRedisHuey,
    Serializer,
    SqliteHuey,
    SqliteStorage,
    Task,
    provide_driver,
)

RANK_SLOTS = 10_000


def queue_priority(priority: int, fair_rank: int) -> int:
    """Huey priority: levels never cross; within a level, the submitter's n-th waiting job
    ranks with everyone else's n-th (round-robin between users)."""
    return priority * RANK_SLOTS - min(fair_rank, RANK_SLOTS - 1)


def backend_name(settings: Settings) -> str:
    backend = settings.jobs.backend
    if backend == "auto":
        return "redis" if settings.redis_url else "sqlite"
    if backend not in ("sqlite", "redis", "postgres"):
        raise ValueError(f"jobs.backend must be auto, sqlite, redis or postgres, not {backend!r}")
    if backend == "redis" and not settings.redis_url:
        raise ValueError("jobs.backend is redis but no redis_url is set (MODELYARD_REDIS_URL)")
    return backend


class JsonSerializer(Serializer):  # type: ignore[misc]
    """Huey messages as JSON; datetimes tagged. Refuses anything but plain data."""

    def _serialize(self, data: Any) -> bytes:
        if isinstance(data, Message):
            return orjson.dumps({"m": [_encode(v) for v in data]})
        return orjson.dumps({"v": _encode(data)})

    def _deserialize(self, data: bytes) -> Any:
        decoded = orjson.loads(data)
        if "m" in decoded:
            return Message(*[_decode(v) for v in decoded["m"]])
        return _decode(decoded["v"])


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$dt"}:
            return dt.datetime.fromisoformat(value["$dt"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


class _SqliteStorage(SqliteStorage):  # type: ignore[misc]
    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


def create_huey(settings: Settings) -> Huey:
    # Huey logs every execution at INFO; the job layer logs what matters.
    logging.getLogger("huey").setLevel(logging.WARNING)
    backend = backend_name(settings)
    name = settings.jobs.queue_name
    common: dict[str, Any] = {"results": False, "utc": True, "serializer": JsonSerializer()}
    # Blocking reads wake at least this often, so a stopping worker never waits long.
    read_timeout = max(settings.jobs.poll_seconds, 0.05)
    if backend == "redis":
        provide_driver("redis")
        return PriorityRedisHuey(
            name, url=settings.redis_url, blocking=True, read_timeout=read_timeout, **common
        )
    if backend == "postgres":
        url = settings.resolved_database_url
        if not url.startswith("postgresql"):
            raise ValueError("jobs.backend postgres needs a PostgreSQL database_url")
        dsn = "postgresql://" + url.split("://", 1)[1]
        provide_driver("psycopg")
        return PostgresHuey(
            name,
            dsn=dsn,
            table_prefix="modelyard_queue",
            blocking=True,
            read_timeout=read_timeout,
            **common,
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        name,
        filename=str(settings.home / "queue.db"),
        storage_class=_SqliteStorage,
        timeout=30,
        **common,
    )


def job_id_of(task: Task) -> int | None:
    """The job id a queue message carries (``None`` for a foreign message)."""
    if task.name != "run_job" or not task.args:
        return None
    value = task.args[0]
    return value if isinstance(value, int) else None
