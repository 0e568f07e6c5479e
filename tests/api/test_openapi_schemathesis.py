"""Schemathesis over ``/openapi.json``, authenticated as an admin, on a fresh SQLite database.

Three runs, each derandomised so that a failure reproduces:

- one test per operation that the app serves when the suite runs: the schema's examples,
  schemathesis' coverage cases (boundary values, missing and unexpected input, undeclared
  methods: typically 10 to 60 an operation) and ``EXAMPLES`` (5) generated requests;
- the same at length, ``LONG_EXAMPLES`` (50) generated requests per operation: marked
  ``slow`` and run only when asked for (``pytest -m slow tests/api/test_openapi_schemathesis.py``),
  since it takes more than ten minutes on two cores, which the default suite cannot afford;
- a stateful run: sequences of calls along the links schemathesis infers from the document
  (an id or name that one response gives is used by the next request: create a model, add a
  version, set an alias, read it back, delete it), ``STATEFUL_EXAMPLES`` sequences of up to
  ``STATEFUL_STEPS`` calls.

Each response must not be a 5xx and must match the status codes, media types, headers and
schemas that the document declares; a request without the token must be refused
(``ignored_auth``). Every operation runs with an admin token of its own, so that one that
revokes its token, disables its user or logs out cannot lock the rest of the run out; the
stateful run leaves those operations (``AUTH_WRITES``) out altogether, since it follows real
ids and names from one call to the next.

Two of schemathesis' checks are left out unless ``MODELYARD_SCHEMATHESIS_STRICT=1``:
``positive_data_acceptance`` and ``negative_data_rejection`` judge how tight the document is
rather than whether the API keeps it. A request that the schema allows may rightly be refused
with a 4xx problem (an opaque cursor made up by the generator, an unknown flavor or job kind, a
file that is not a table), and pydantic's lax mode accepts ``"5"`` for an integer. The strict
run lists those places, to tighten schemas where that is worth it.

``MODELYARD_SCHEMATHESIS_EXAMPLES`` changes the default run's number of generated requests
per operation. SQLite only: the PostgreSQL half of
the suite covers the same endpoints, and this run is about the HTTP contract, which does not
depend on the backend. Event streams (``text/event-stream``) are read for ``STREAM_SECONDS``
and then cut, since they follow live events until the client leaves.
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

# Imported before the app starts: its threads import numpy while hypothesis looks it up in
# sys.modules, and a half-imported numpy there fails the draw.
import numpy  # noqa: F401
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

EXAMPLES = int(os.environ.get("MODELYARD_SCHEMATHESIS_EXAMPLES", "5"))
LONG_EXAMPLES = 50
STATEFUL_EXAMPLES = 30
STATEFUL_STEPS = 10
STREAM_SECONDS = 0.3
STRICT = os.environ.get("MODELYARD_SCHEMATHESIS_STRICT") == "1"
ADVISORY_CHECKS = [] if STRICT else [positive_data_acceptance, negative_data_rejection]

_HOME = Path(tempfile.gettempdir()) / f"modelyard-schemathesis-{uuid.uuid4().hex[:10]}"
_APP = create_app(make_settings(_HOME, f"sqlite:///{_HOME / 'modelyard.db'}"))
# Reading the document runs no lifespan, so collecting opens and writes nothing; schemathesis
# starts the app's lifespan at the first request, after ``admin_token`` has migrated the home.
schema = schemathesis.openapi.from_dict(_APP.openapi())
schema.app = _APP
# Operations that end a session, change a user or a token: never in the stateful run.
AUTH_WRITES = [
    "auth.login",
    "auth.logout",
    "users.change_my_password",
    "users.create",
    "users.update",
    "tokens.create",
    "tokens.revoke",
]


@pytest.fixture(scope="module")
def admin_token() -> Iterator[str]:
    _HOME.mkdir(parents=True)
    url = f"sqlite:///{_HOME / 'modelyard.db'}"
    migrate.upgrade(url)
    try:
        yield _new_admin_token()
    finally:
        shutdown_lifespans()
        shutil.rmtree(_HOME, ignore_errors=True)


def _new_admin_token() -> str:
    db = Database(f"sqlite:///{_HOME / 'modelyard.db'}")
    try:
        with db.session() as s:
            user = auth_service.create_user(
                s, UserCreate(name=f"fuzz-{uuid.uuid4().hex[:10]}", role=Role.admin), actor="test"
            )
            token = auth_service.create_token(s, user, lifetime=dt.timedelta(days=1), actor="test")
    finally:
        db.dispose()
    return token.token


@pytest.fixture
def operation_token(admin_token: str) -> str:
    """An admin token for one operation's examples alone."""
    return _new_admin_token()


def _excluded_checks(case: Any) -> list[Any]:
    excluded = list(ADVISORY_CHECKS)
    if isinstance(case.query, dict) and case.query.get("cursor") is not None:
        # A cursor is an opaque token from a previous page; a made-up one is refused with 400.
        excluded.append(positive_data_acceptance)
    return excluded


def _streams(case: Any) -> bool:
    responses = case.operation.definition.raw.get("responses", {})
    return any("text/event-stream" in r.get("content", {}) for r in responses.values())


def _call_and_validate(case: Any, token: str) -> None:
    extra = {"timeout": STREAM_SECONDS} if _streams(case) else {}
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=_excluded_checks(case),
        **extra,
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_its_openapi_contract(case: Any, operation_token: str) -> None:
    _call_and_validate(case, operation_token)


@pytest.fixture
def asked_for_at_length(request: pytest.FixtureRequest) -> None:
    expression = request.config.getoption("markexpr") or ""
    if "slow" not in expression or "not slow" in expression:
        pytest.skip("50 examples per operation: run with -m slow (more than ten minutes)")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=LONG_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_its_openapi_contract_at_length(
    case: Any, asked_for_at_length: None, operation_token: str
) -> None:
    _call_and_validate(case, operation_token)


def test_api_keeps_its_contract_across_linked_calls(admin_token: str) -> None:
    linked = schemathesis.openapi.from_dict(_APP.openapi()).exclude(operation_id=AUTH_WRITES)
    linked.app = _APP
    headers = {"Authorization": f"Bearer {admin_token}"}
    calls: list[str] = []

    class Workflow(linked.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            calls.append(case.operation.label)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers, **({"timeout": STREAM_SECONDS} if _streams(case) else {})}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=_excluded_checks(case),
                transport_kwargs=kwargs,
            )

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    # Sequences, not single calls: links were followed, across many operations.
    assert len(calls) > 2 * STATEFUL_EXAMPLES, len(calls)
    assert len(set(calls)) >= 20, sorted(set(calls))
