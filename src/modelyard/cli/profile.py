"""``modelyard profile``: the servers the other commands talk to, kept in config.toml.

A profile is a URL and a token under a name; ``--profile NAME`` picks one, else
``MODELYARD_PROFILE``, else the file's default (see :mod:`modelyard.client._config` for the
whole precedence, the environment's ``MODELYARD_URL``/``MODELYARD_TOKEN`` included).
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._remote import Remote, remote

app = typer.Typer(
    help="Servers to talk to: profiles in ~/.config/modelyard/config.toml; whoami.",
    no_args_is_help=True,
)


@app.command("set")
def set_profile(
    name: Annotated[str, typer.Argument(help="The profile's name.")],
    url: Annotated[str | None, typer.Option(help="The server's URL.")] = None,
    token: Annotated[
        str | None, typer.Option(help="An API token (the file is readable by you only).")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Use it when none is named.")] = False,
) -> None:
    """Create or change a profile."""
    from modelyard.client import save_profile

    path = save_profile(name, url=url, token=token, make_default=default)
    typer.echo(f"profile {name} saved in {path}")


@app.command("list")
def list_profiles() -> None:
    """List the profiles (tokens are not shown)."""
    from modelyard.client import config_path, load_config

    config = load_config()
    default = config.get("default_profile")
    profiles = config.get("profiles", {})
    if not profiles:
        typer.echo(f"no profiles in {config_path()}; add one with `modelyard profile set`")
        return
    for name, values in sorted(profiles.items()):
        mark = "*" if name == default else " "
        token = "token set" if values.get("token") else "no token"
        typer.echo(f"{mark} {name}  {values.get('url', '-')}  ({token})")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The profile's name.")]) -> None:
    """Remove a profile."""
    from modelyard.client import remove_profile

    remove_profile(name)
    typer.echo(f"profile {name} removed")


@remote(app, "whoami")
def whoami(remote: Remote) -> None:
    """Say which server and user the other commands would use, and check the token."""
    client = remote.client
    health = client.health()
    me = client.users.me()
    connection = client.connection
    remote.done(
        f"{me.name} ({me.role.value}) on {client.url} (modelyard {health.get('version')}); "
        f"URL from the {connection.url_from}, token from the {connection.token_from}",
        {"user": me, "url": client.url, "version": health.get("version")},
    )
