"""Fixtures of the reliability tests: a Redis and a PostgreSQL of their own, which the tests
stop and start to make outages (see ``_services``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability._services import PrivatePostgres, PrivateRedis


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """Initialised and started once per module; a test that stops it starts it again."""
    postgres = PrivatePostgres()
    try:
        yield postgres.init().start()
    finally:
        postgres.remove()
