"""huey, imported without the Redis and PostgreSQL drivers; a queue that needs one gets it.

``huey.storage`` imports ``redis`` and ``psycopg`` when it is imported, whichever backend is
used (about 19 MB resident, a sixth of an idle server that queues in SQLite). It is imported
here under :func:`modelyard.kit.optional_imports.hidden`, so huey records both drivers as
missing, and :func:`provide_driver` sets huey's module-level names to the real driver just
before a Redis or PostgreSQL queue is created.
"""

from __future__ import annotations

from typing import Literal

from modelyard.kit.optional_imports import hidden

with hidden("redis", "psycopg"):
    import huey.storage as _storage
    from huey import PostgresHuey, PriorityRedisHuey, SqliteHuey
    from huey.api import Huey, Task
    from huey.registry import Message
    from huey.serializer import Serializer
    from huey.storage import SqliteStorage

__all__ = [
    "Huey",
    "Message",
    "PostgresHuey",
    "PriorityRedisHuey",
    "Serializer",
    "SqliteHuey",
    "SqliteStorage",
    "Task",
    "provide_driver",
]


def provide_driver(driver: Literal["redis", "psycopg"]) -> None:
    """Give huey's storage module the driver it imported as missing (no-op once it has it).

    A driver that is really not installed stays missing, and huey raises its own
    ``ConfigurationError`` naming it when the queue is created.
    """
    if driver == "redis" and getattr(_storage, "Redis", ...) is None:
        try:
            import redis
            import redis.exceptions
        except ImportError:
            return
        _storage.ConnectionPool = redis.ConnectionPool
        _storage.Redis = redis.Redis
        _storage.ConnectionError = redis.exceptions.ConnectionError
        _storage.TimeoutError = redis.exceptions.TimeoutError
        # A class attribute, bound to the missing client when the class was defined.
        _storage.RedisStorage.redis_client = redis.Redis
    elif driver == "psycopg" and getattr(_storage, "psycopg", ...) is None:
        try:
            import psycopg
        except ImportError:
            return
        _storage.psycopg = psycopg
