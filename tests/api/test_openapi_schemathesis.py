"""Schemathesis over ``/openapi.json``, authenticated as an admin, on a fresh SQLite database.

Every operation that the app serves when the suite runs (one test per operation) gets the
schema's examples, schemathesis' coverage cases (boundary values, missing and unexpected
input, undeclared methods: typically 10 to 60 an operation) and ``MAX_EXAMPLES`` generated
requests, derandomised so that a failure reproduces. Generating is what costs here (about
1 CPU-second an operation), so the generated part stays small. Each response must not be a 5xx and must match the status codes, media
types, headers and schemas that the document declares; a request without the token must be
refused (``ignored_auth``).

Two of schemathesis' checks are left out unless ``MODELYARD_SCHEMATHESIS_STRICT=1``:
``positive_data_acceptance`` and ``negative_data_rejection`` judge how tight the document is
rather than whether the API keeps it. A request that the schema allows may rightly be refused
with a 4xx problem (an opaque cursor made up by the generator, an unknown flavor or job kind, a
file that is not a table), and pydantic's lax mode accepts ``"5"`` for an integer. The strict
run lists those places, to tighten schemas where that is worth it.

SQLite only: the PostgreSQL half of the suite covers the same endpoints, and this run is about
the HTTP contract, which does not depend on the backend; running it twice would double its time.
Event streams (``text/event-stream``) are read for ``STREAM_SECONDS`` and then cut, since they
follow live events until the client leaves.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from modelyard.app import create_app
from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.kit import migrate
from modelyard.kit.db import Database
from tests.conftest import make_settings

MAX_EXAMPLES = 5
STREAM_SECONDS = 0.3
STRICT = os.environ.get("MODELYARD_SCHEMATHESIS_STRICT") == "1"
ADVISORY_CHECKS = [] if STRICT else [positive_data_acceptance, negative_data_rejection]

_HOME = Path(tempfile.gettempdir()) / f"modelyard-schemathesis-{uuid.uuid4().hex[:10]}"
_APP = create_app(make_settings(_HOME, f"sqlite:///{_HOME / 'modelyard.db'}"))
# Reading the document runs no lifespan, so collecting opens and writes nothing; schemathesis
# starts the app's lifespan at the first request, after ``admin_token`` has migrated the home.
schema = schemathesis.openapi.from_dict(_APP.openapi())
schema.app = _APP


@pytest.fixture(scope="module")
def admin_token() -> Iterator[str]:
    _HOME.mkdir(parents=True)
    url = f"sqlite:///{_HOME / 'modelyard.db'}"
    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            user = auth_service.create_user(
                s,
                UserCreate(name="fuzz-admin", password="password-123", role=Role.admin),
                actor="test",
            )
            token = auth_service.create_token(s, user, lifetime=dt.timedelta(days=1), actor="test")
    finally:
        db.dispose()
    try:
        yield token.token
    finally:
        shutdown_lifespans()
        shutil.rmtree(_HOME, ignore_errors=True)


def _streams(case: Any) -> bool:
    responses = case.operation.definition.raw.get("responses", {})
    return any("text/event-stream" in r.get("content", {}) for r in responses.values())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_its_openapi_contract(case: Any, admin_token: str) -> None:
    excluded = list(ADVISORY_CHECKS)
    if isinstance(case.query, dict) and case.query.get("cursor") is not None:
        # A cursor is an opaque token from a previous page; a made-up one is refused with 400.
        excluded.append(positive_data_acceptance)
    extra = {"timeout": STREAM_SECONDS} if _streams(case) else {}
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_token}"}, excluded_checks=excluded, **extra
    )
