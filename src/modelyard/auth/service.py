"""Users, credentials and the lookup that every authenticated request makes.

Token resolution is on the hot path of every request, so it is one Core query over an
indexed hash, remembered for a few seconds by :mod:`modelyard.auth._cache`; ``last_used_at``
is written at most once a minute per token. Changes that take a credential away (revoke,
logout, disable, role change) drop the cached entries when they commit.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from modelyard.auth import _throttle as throttle
from modelyard.auth._cache import credentials
from modelyard.auth.schemas import Principal, Role, TokenCreated, TokenOut, UserCreate, UserUpdate
from modelyard.config import AuthSettings
from modelyard.kit.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from modelyard.kit.security import hash_password, hash_secret, new_secret, verify_password
from modelyard.kit.time import utcnow
from modelyard.models import ApiToken, AuditEntry, User

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


_AUDIT_INSERT = sa.insert(AuditEntry)


def record(
    session: Session, actor: str, action: str, object_type: str, key: str, **detail: object
) -> None:
    """Append to the audit log within the caller's transaction.

    One prepared Core insert on the session's connection: every write makes one, and an ORM
    object (or a statement built per call and run through ``Session.execute``) costs several
    times the statement itself."""
    session.connection().execute(
        _AUDIT_INSERT,
        {
            "at": utcnow(),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_key": key,
            "detail": detail,
        },
    )


def require_owner(created_by: str, *, actor: str, as_admin: bool, what: str, action: str) -> None:
    """Who changes an object: whoever created it, or an admin (README, Security). Editors
    create and may delete or change their own models, datasets and targets, not another's."""
    if as_admin or created_by == actor:
        return
    raise Forbidden(f"{what} belongs to '{created_by}'; only they or an admin may {action}.")


def get_user(session: Session, name: str) -> User:
    user = session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"No user named '{name}'.")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.name)))


def create_user(session: Session, data: UserCreate, *, actor: str) -> User:
    if session.scalar(sa.select(User.id).where(User.name == data.name)) is not None:
        raise Conflict(f"A user named '{data.name}' already exists; choose another name.")
    user = User(
        name=data.name,
        role=data.role.value,
        password_hash=hash_password(data.password) if data.password else None,
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", data.name, role=data.role.value)
    return user


def update_user(session: Session, name: str, data: UserUpdate, *, actor: str) -> User:
    user = get_user(session, name)
    changes: dict[str, object] = {}
    if data.role is not None and data.role.value != user.role:
        if user.role == Role.admin and _admin_count(session) <= 1:
            raise Conflict("This is the last admin; make another user admin first.")
        user.role = data.role.value
        changes["role"] = data.role.value
    if data.disabled is not None and data.disabled != user.disabled:
        if data.disabled and user.role == Role.admin and _admin_count(session) <= 1:
            raise Conflict("This is the last admin; it cannot be disabled.")
        user.disabled = data.disabled
        changes["disabled"] = data.disabled
    if data.password is not None:
        user.password_hash = hash_password(data.password)
        changes["password"] = "changed"
    if "role" in changes or "disabled" in changes:
        _forget_credentials(session, user.id)
    session.flush()
    record(session, actor, "user.update", "user", name, **changes)
    return user


def change_own_password(session: Session, name: str, current: str, new: str) -> User:
    """A user changing their own password must know the current one."""
    user = get_user(session, name)
    if not verify_password(user.password_hash, current):
        raise Forbidden("The current password is wrong; nothing was changed.")
    user.password_hash = hash_password(new)
    session.flush()
    record(session, name, "user.password", "user", name)
    return user


def _admin_count(session: Session) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.role == "admin", ~User.disabled)
        )
        or 0
    )


@cache
def _dummy_hash() -> str:
    return hash_password(new_secret())


def authenticate(session: Session, name: str, password: str) -> User:
    """The user whose password this is, else 401. An unknown, disabled or password-less user
    costs the same argon2 check as a known one, so timing does not tell which names exist."""
    user = session.scalar(sa.select(User).where(User.name == name))
    stored = user.password_hash if user is not None else None
    matches = verify_password(stored or _dummy_hash(), password) and stored is not None
    if user is None or user.disabled or not matches:
        raise Unauthorized("Wrong user name or password.")
    return user


def log_in(
    session: Session, settings: AuthSettings, name: str, password: str, address: str
) -> User:
    """:func:`authenticate` behind the login throttle (429 once too many attempts failed);
    a failure is counted and audited even though the request's transaction rolls back."""
    throttle.check(session, settings, name, address)
    try:
        user = authenticate(session, name, password)
    except Unauthorized:
        throttle.record_failure(session.get_bind().engine, settings, name, address)
        raise
    throttle.record_success(session, settings, name, address)
    record(session, name, "auth.login", "user", name, address=address[:64])
    return user


def _token_out(token: ApiToken, user_name: str) -> TokenOut:
    return TokenOut(
        id=token.id,
        user=user_name,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


def create_token(
    session: Session,
    user: User,
    *,
    name: str = "",
    lifetime: dt.timedelta | None,
    kind: str = "api",
    actor: str,
) -> TokenCreated:
    if user.disabled:
        raise BadRequest(f"User '{user.name}' is disabled; enable it before creating a token.")
    secret = new_secret()
    token = ApiToken(
        user_id=user.id,
        kind=kind,
        name=name,
        prefix=secret[:10],
        secret_hash=hash_secret(secret),
        expires_at=utcnow() + lifetime if lifetime else None,
    )
    session.add(token)
    session.flush()
    if kind == "api":
        record(session, actor, "token.create", "user", user.name, token_id=token.id, name=name)
    return TokenCreated(**_token_out(token, user.name).model_dump(), token=secret)


def list_tokens(
    session: Session, principal: Principal, *, all_users: bool = False
) -> list[TokenOut]:
    query = (
        sa.select(ApiToken, User.name)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.kind == "api")
        .order_by(ApiToken.id)
    )
    if not (all_users and principal.can(Role.admin)):
        query = query.where(ApiToken.user_id == principal.id)
    return [_token_out(token, user_name) for token, user_name in session.execute(query)]


def revoke_token(session: Session, token_id: int, principal: Principal) -> TokenOut:
    row = session.execute(
        sa.select(ApiToken, User.name)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.id == token_id, ApiToken.kind == "api")
    ).first()
    if row is None:
        raise NotFound(f"No API token with id {token_id}.")
    token, user_name = row
    if token.user_id != principal.id and not principal.can(Role.admin):
        raise Forbidden("Only an admin may revoke another user's token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        _forget_credentials(session, token.user_id)
        record(session, principal.name, "token.revoke", "user", user_name, token_id=token_id)
    session.flush()
    return _token_out(token, user_name)


def end_session(session: Session, secret: str) -> None:
    secret_hash = hash_secret(secret)
    user_name = session.scalar(
        sa.update(ApiToken)
        .where(
            ApiToken.secret_hash == secret_hash,
            ApiToken.kind == "session",
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .returning(sa.select(User.name).where(User.id == ApiToken.user_id).scalar_subquery())
    )
    if user_name is not None:
        record(session, user_name, "auth.logout", "user", user_name)
    credentials.drop(secret_hash)
    event.listen(session, "after_commit", lambda _: credentials.drop(secret_hash), once=True)


def _forget_credentials(session: Session, user_id: int) -> None:
    """Drop the user's cached credentials now and again once this change has committed (a
    request resolving the token in between would otherwise cache the old row)."""
    credentials.drop_user(user_id)
    event.listen(session, "after_commit", lambda _: credentials.drop_user(user_id), once=True)


def cached_principal(secret: str, kind: str) -> Principal | None:
    """The principal of a secret resolved in the last few seconds, without any I/O."""
    return credentials.get(hash_secret(secret), kind)


_RESOLVE = (
    sa.select(
        User.id,
        User.name,
        User.role,
        User.disabled,
        ApiToken.id.label("token_id"),
        ApiToken.kind,
        ApiToken.expires_at,
        ApiToken.revoked_at,
        ApiToken.last_used_at,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.secret_hash == sa.bindparam("secret_hash"))
)


def resolve_secret(conn: Connection, secret: str, *, kind: str | None = None) -> Principal:
    """Map a bearer token or session secret to its user; 401 with the reason otherwise.

    It notes when the token was last used (at most once a minute) on ``conn``, whose
    transaction the caller commits."""
    secret_hash = hash_secret(secret)
    row = conn.execute(_RESOLVE, {"secret_hash": secret_hash}).first()
    if row is None or (kind is not None and row.kind != kind):
        raise Unauthorized("The token is not valid; create one with `modelyard token create USER`.")
    now = utcnow()
    if row.revoked_at is not None:
        raise Unauthorized("The token was revoked; create a new one.")
    expires_at = _aware(row.expires_at)
    if expires_at is not None and expires_at <= now:
        raise Unauthorized("The token has expired; create a new one.")
    if row.disabled:
        raise Unauthorized(f"User '{row.name}' is disabled.")
    last_used = _aware(row.last_used_at)
    if last_used is None or now - last_used > LAST_USED_RESOLUTION:
        conn.execute(
            sa.update(ApiToken).where(ApiToken.id == row.token_id).values(last_used_at=now)
        )
    principal = Principal(id=row.id, name=row.name, role=Role(row.role))
    expires_in = (expires_at - now).total_seconds() if expires_at is not None else None
    credentials.put(secret_hash, row.kind, principal, expires_in)
    return principal


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
