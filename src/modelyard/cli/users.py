"""``modelyard user`` and ``modelyard token``: accounts and API tokens on the database directly.

They need no server and no token: they are how the first admin and the first token come to
be (``modelyard user create alice --role admin``, ``modelyard token create alice``). Against
a running server, an admin's token does the same through the API (``modelyard.client``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelyard.auth import service
from modelyard.auth.schemas import Role, UserCreate, UserUpdate
from modelyard.cli._context import session
from modelyard.kit.errors import ProblemError

user_app = typer.Typer(
    help="Users, on this machine's database directly (no server, no token needed).",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="API tokens, on this machine's database directly (how the first token is made).",
    no_args_is_help=True,
)
console = Console()
CLI_ACTOR = "cli"


def _fail(exc: ProblemError) -> typer.Exit:
    Console(stderr=True).print(f"[red]{exc.detail}[/]")
    return typer.Exit(1)


@user_app.command("create")
def create_user(
    name: str,
    role: Annotated[Role, typer.Option(help="admin, editor or viewer.")] = Role.viewer,
    password: Annotated[
        str | None, typer.Option(help="Password; a random one is printed if omitted.")
    ] = None,
) -> None:
    """Create a user (prints a generated password unless --password is given)."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with session() as s:
            service.create_user(
                s, UserCreate(name=name, password=password, role=role), actor=CLI_ACTOR
            )
    except ProblemError as exc:
        raise _fail(exc) from exc
    console.print(f"created user [bold]{name}[/] ({role.value})")
    if generated:
        console.print(f"password: {password}")


@user_app.command("list")
def list_users() -> None:
    """List users."""
    with session() as s:
        users = service.list_users(s)
        table = Table("name", "role", "disabled", "created")
        for u in users:
            table.add_row(
                u.name, u.role, str(u.disabled), u.created_at.isoformat(timespec="seconds")
            )
    console.print(table)


@user_app.command("set-role")
def set_role(name: str, role: Role) -> None:
    """Change a user's role."""
    try:
        with session() as s:
            service.update_user(s, name, UserUpdate(role=role), actor=CLI_ACTOR)
    except ProblemError as exc:
        raise _fail(exc) from exc
    console.print(f"{name} is now {role.value}")


@user_app.command("set-password")
def set_password(
    name: str, password: Annotated[str, typer.Option(prompt=True, hide_input=True)]
) -> None:
    """Set a user's password."""
    try:
        with session() as s:
            service.update_user(s, name, UserUpdate(password=password), actor=CLI_ACTOR)
    except ProblemError as exc:
        raise _fail(exc) from exc
    console.print("password changed")


@token_app.command("create")
def create_token(
    user: str,
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 90,
) -> None:
    """Create an API token for USER and print it (shown once)."""
    try:
        with session() as s:
            owner = service.get_user(s, user)
            created = service.create_token(
                s, owner, name=name, lifetime=dt.timedelta(days=days), actor=CLI_ACTOR
            )
    except ProblemError as exc:
        raise _fail(exc) from exc
    print(created.token)


@token_app.command("revoke")
def revoke_token(token_id: int) -> None:
    """Revoke the API token with this id."""
    from modelyard.auth.schemas import Principal

    cli_admin = Principal(id=0, name=CLI_ACTOR, role=Role.admin)
    try:
        with session() as s:
            service.revoke_token(s, token_id, cli_admin)
    except ProblemError as exc:
        raise _fail(exc) from exc
    console.print(f"token {token_id} revoked")


@token_app.command("list")
def list_tokens() -> None:
    """List every user's API tokens."""
    from modelyard.auth.schemas import Principal

    cli_admin = Principal(id=0, name=CLI_ACTOR, role=Role.admin)
    with session() as s:
        tokens = service.list_tokens(s, cli_admin, all_users=True)
    table = Table("id", "user", "name", "prefix", "expires", "revoked")
    for t in tokens:
        table.add_row(
            str(t.id), t.user, t.name, t.prefix, str(t.expires_at or ""), str(t.revoked_at or "")
        )
    console.print(table)
