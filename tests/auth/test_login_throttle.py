"""The login throttle: failed logins are counted in the database, too many answer 429 with
Retry-After, a lock is bounded by the window, a success resets, and the owner's known
addresses survive a lock that someone else's guesses caused."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.config import AuthSettings
from modelyard.kit.db import Database
from modelyard.kit.errors import TooManyRequests, Unauthorized
from modelyard.models import AuditEntry, LoginAttempt

PASSWORD = "password-123"


def _user(database: Database) -> str:
    name = f"throttled-{uuid.uuid4().hex[:8]}"
    with database.session() as s:
        auth_service.create_user(
            s, UserCreate(name=name, password=PASSWORD, role=Role.viewer), actor="test"
        )
    return name


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _attempt(database: Database, settings: AuthSettings, name: str, password: str, address: str):  # type: ignore[no-untyped-def]
    """One login as the endpoint makes it: the outcome, or the exception it raised."""
    try:
        with database.session() as s:
            return auth_service.log_in(s, settings, name, password, address)
    except (Unauthorized, TooManyRequests) as exc:
        return exc


def test_fifth_failure_locks_the_name_at_that_address(database: Database) -> None:
    settings = AuthSettings(login_failures_per_user=5)
    name, address = _user(database), _address()
    for _ in range(5):
        assert isinstance(_attempt(database, settings, name, "wrong", address), Unauthorized)
    refused = _attempt(database, settings, name, PASSWORD, address)
    assert isinstance(refused, TooManyRequests)
    assert 0 < refused.retry_after <= settings.login_window_seconds
    # another address is not locked for this name (the per-name-from-anywhere limit is higher)
    assert not isinstance(_attempt(database, settings, name, PASSWORD, _address()), Exception)


def test_failures_are_audited_and_survive_the_rolled_back_request(database: Database) -> None:
    settings = AuthSettings()
    name, address = _user(database), _address()
    _attempt(database, settings, name, "wrong", address)
    with database.session() as s:
        failures = s.scalars(sa.select(LoginAttempt).where(LoginAttempt.user_name == name)).all()
        audited = s.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_key == name)).all()
    assert [(f.address, f.succeeded) for f in failures] == [(address, False)]
    assert "auth.login_failed" in audited


def test_success_resets_the_count(database: Database) -> None:
    settings = AuthSettings(login_failures_per_user=3)
    name, address = _user(database), _address()
    for _ in range(2):
        _attempt(database, settings, name, "wrong", address)
    assert not isinstance(_attempt(database, settings, name, PASSWORD, address), Exception)
    for _ in range(2):  # two more would lock it had the first two still counted
        assert isinstance(_attempt(database, settings, name, "wrong", address), Unauthorized)
    assert not isinstance(_attempt(database, settings, name, PASSWORD, address), Exception)


def test_lock_ends_when_the_failures_age_out(database: Database) -> None:
    settings = AuthSettings(login_failures_per_user=2, login_window_seconds=600)
    name, address = _user(database), _address()
    for _ in range(2):
        _attempt(database, settings, name, "wrong", address)
    assert isinstance(_attempt(database, settings, name, PASSWORD, address), TooManyRequests)
    with database.session() as s:  # let the clock pass the window
        s.execute(
            sa.update(LoginAttempt)
            .where(LoginAttempt.user_name == name)
            .values(at=sa.literal(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=601)))
        )
    assert not isinstance(_attempt(database, settings, name, PASSWORD, address), Exception)


def test_one_address_spraying_many_names_is_locked(database: Database) -> None:
    settings = AuthSettings(login_failures_per_address=4)
    address = _address()
    for i in range(4):
        _attempt(database, settings, f"nobody-{uuid.uuid4().hex[:6]}-{i}", "x", address)
    name = _user(database)
    assert isinstance(_attempt(database, settings, name, PASSWORD, address), TooManyRequests)


def test_spread_guessing_locks_strangers_but_not_the_owners_known_address(
    database: Database,
) -> None:
    settings = AuthSettings(login_failures_per_user=100, login_failures_per_user_any_address=3)
    name, home = _user(database), _address()
    assert not isinstance(_attempt(database, settings, name, PASSWORD, home), Exception)
    for _ in range(3):
        _attempt(database, settings, name, "guess", _address())
    assert isinstance(_attempt(database, settings, name, PASSWORD, _address()), TooManyRequests)
    assert not isinstance(_attempt(database, settings, name, PASSWORD, home), Exception)


def test_unknown_and_disabled_users_get_the_same_answer(database: Database) -> None:
    settings = AuthSettings()
    name = _user(database)
    with database.session() as s:
        auth_service.get_user(s, name).disabled = True
    for who, password in ((name, PASSWORD), (f"ghost-{uuid.uuid4().hex[:6]}", PASSWORD)):
        outcome = _attempt(database, settings, who, password, _address())
        assert isinstance(outcome, Unauthorized)
        assert outcome.detail == "Wrong user name or password."


def test_unknown_user_runs_a_password_hash_check(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timing is not asserted (the machine is noisy): that argon2 runs for an unknown name is."""
    checked: list[str] = []
    real = auth_service.verify_password

    def spy(stored: str | None, password: str) -> bool:
        checked.append(stored or "")
        return real(stored, password)

    monkeypatch.setattr(auth_service, "verify_password", spy)
    _attempt(database, AuthSettings(), f"ghost-{uuid.uuid4().hex[:6]}", "x", _address())
    assert len(checked) == 1 and checked[0].startswith("$argon2")


def test_api_login_answers_429_problem_with_retry_after(
    app_client: TestClient, database: Database
) -> None:
    name = _user(database)
    client = TestClient(app_client.app, client=(_address(), 4000))
    for _ in range(5):
        r = client.post("/api/auth/login", json={"name": name, "password": "wrong"})
        assert r.status_code == 401
    r = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert 0 < int(r.headers["retry-after"]) <= 900
    assert r.json()["status"] == 429 and "Too many failed logins" in r.json()["detail"]
    assert "modelyard_session" not in r.cookies
    # the owner, from another address, still gets in
    other = TestClient(app_client.app, client=(_address(), 4000))
    assert (
        other.post("/api/auth/login", json={"name": name, "password": PASSWORD}).status_code == 200
    )


def test_web_login_form_answers_429_with_retry_after(
    app_client: TestClient, database: Database
) -> None:
    from tests.web.conftest import log_in

    name = _user(database)
    client = TestClient(app_client.app, client=(_address(), 4000))
    for _ in range(5):
        assert log_in(client, name, password="wrong").status_code == 401
    r = log_in(client, name)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "Too many failed logins" in r.text
    assert "modelyard_session" not in client.cookies


def test_login_and_logout_are_audited(app_client: TestClient, database: Database) -> None:
    name = _user(database)
    client = TestClient(app_client.app, client=(_address(), 4000))
    assert client.post("/api/auth/login", json={"name": name, "password": PASSWORD}).is_success
    r = client.post("/api/auth/logout", headers={"Origin": "http://testserver"})
    assert r.status_code == 204
    with database.session() as s:
        actions = s.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.object_key == name)
            .order_by(AuditEntry.id)
        ).all()
    assert actions[-2:] == ["auth.login", "auth.logout"]


def test_failures_past_the_window_are_pruned_whatever_their_name(database: Database) -> None:
    settings = AuthSettings(login_window_seconds=900)
    stale = f"made-up-{uuid.uuid4().hex[:8]}"
    with database.session() as s:
        s.add(
            LoginAttempt(
                user_name=stale,
                address=_address(),
                succeeded=False,
                at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=901),
            )
        )
    _attempt(database, settings, f"other-{uuid.uuid4().hex[:8]}", "x", _address())
    with database.session() as s:
        left = s.scalar(sa.select(sa.func.count()).where(LoginAttempt.user_name == stale))
    assert left == 0


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.7", "203.0.113.9", [], "198.51.100.7"),  # no proxy trusted: the peer
        ("10.0.0.2", "203.0.113.9", ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.2", None, ["10.0.0.0/8"], "10.0.0.2"),
        # the client wrote the left part itself: only the hop our proxy added counts
        ("10.0.0.2", "1.2.3.4, 203.0.113.9", ["10.0.0.0/8"], "203.0.113.9"),
        # two trusted proxies in a row, then the client
        ("10.0.0.2", "203.0.113.9, 10.0.0.3", ["10.0.0.0/8"], "203.0.113.9"),
        ("198.51.100.7", "203.0.113.9", ["10.0.0.0/8"], "198.51.100.7"),  # not via our proxy
        ("10.0.0.2", "garbage, 203.0.113.9", ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.2", "203.0.113.9, not-an-ip", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "2001:db8::1", ["10.0.0.2"], "2001:db8::1"),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: str | None, trusted: list[str], expected: str
) -> None:
    from modelyard.kit.security import client_address

    assert client_address(peer, forwarded, trusted) == expected


def test_behind_a_trusted_proxy_the_throttle_counts_per_client(
    app_client: TestClient, database: Database
) -> None:
    settings = app_client.app.state.settings  # type: ignore[attr-defined]
    proxy = _address()
    name = _user(database)
    guesser, owner = _address(), _address()
    via_proxy = TestClient(app_client.app, client=(proxy, 4000))

    def login(client_ip: str, password: str) -> int:
        response = via_proxy.post(
            "/api/auth/login",
            json={"name": name, "password": password},
            headers={"X-Forwarded-For": client_ip},
        )
        return response.status_code

    settings.auth.trusted_proxies = [proxy]
    try:
        for _ in range(5):
            assert login(guesser, "wrong") == 401
        assert login(guesser, PASSWORD) == 429
        assert login(owner, PASSWORD) == 200  # another client behind the same proxy
    finally:
        settings.auth.trusted_proxies = []
    # the failures above were counted for the guesser, not for the proxy's own address
    assert login(owner, PASSWORD) == 200
    # with the proxy untrusted the header is ignored: a forged one does not dodge a lock
    name = _user(database)
    for i in range(5):
        assert login(f"203.0.113.{i}", "wrong") == 401
    assert login("203.0.113.200", PASSWORD) == 429
