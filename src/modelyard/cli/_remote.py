"""What every command against a server shares: the connection options, output, progress.

:func:`remote` registers a command that takes ``remote: Remote`` first; it adds ``--url``,
``--token``, ``--profile`` and ``--json`` to the command, and the command reaches the server
through ``remote.client`` (a :class:`modelyard.client.Client`, built on first use). Output
goes through :meth:`Remote.emit`: JSON with ``--json`` (for scripts), else a rich table.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from modelyard.cli._errors import USAGE, CommandFailed

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from modelyard.client import Client

F = TypeVar("F", bound=Callable[..., Any])
Column = tuple[str, Callable[[Any], object]]

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The server, e.g. http://127.0.0.1:8000 (else MODELYARD_URL or the profile's).",
    ),
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="An API token (else MODELYARD_TOKEN or the profile's)."),
]
ProfileName = Annotated[
    str | None,
    typer.Option("--profile", help="A profile of ~/.config/modelyard/config.toml."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")]


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def cell(value: object) -> str:
    """A table cell: numbers with separators, structures as compact JSON, nothing as ``-``."""
    if value is None or value == "" or value == {} or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, dict | list):
        return json.dumps(_plain(value), separators=(",", ":"), default=str)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(getattr(value, "value", value))


class Remote:
    """One command's connection to the server and its output."""

    def __init__(self, url: str | None, token: str | None, profile: str | None, as_json: bool):
        self._settings = (url, token, profile)
        self.as_json = as_json
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from modelyard.client import Client, ModelyardError

            url, token, profile = self._settings
            try:
                self._client = Client(url, token, profile=profile)
            except ModelyardError as exc:
                raise CommandFailed(str(exc), USAGE) from exc
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @functools.cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console()

    @functools.cached_property
    def stderr(self) -> Console:
        from rich.console import Console

        return Console(stderr=True)

    def emit(self, value: Any, columns: Sequence[Column] | None = None, *, title: str = "") -> None:
        """Print ``value`` (a schema, a list of them, or plain data): JSON or a table."""
        if (
            isinstance(value, Iterable)
            and not isinstance(value, dict | str | bytes)
            and not hasattr(value, "model_dump")
        ):
            value = list(value)
        if self.as_json:
            sys.stdout.write(json.dumps(_plain(value), indent=2, default=str) + "\n")
            return
        from rich.table import Table

        if isinstance(value, list):
            table = Table(*(header for header, _ in columns or ()), title=title or None)
            for item in value:
                table.add_row(*(cell(get(item)) for _, get in columns or ()))
            self.console.print(table)
            return
        details = Table(show_header=False, box=None, title=title or None)
        pairs = [(h, get(value)) for h, get in columns] if columns else _plain(value).items()
        for key, item in pairs:
            details.add_row(f"[bold]{key}[/]", cell(item))
        self.console.print(details)

    def done(self, message: str, value: Any = None) -> None:
        """A confirmation for people; with ``--json``, ``value`` (or nothing) instead."""
        if self.as_json:
            if value is not None:
                sys.stdout.write(json.dumps(_plain(value), indent=2, default=str) + "\n")
            return
        self.console.print(message, highlight=False)

    def progress(self, *, transfer: bool = False) -> Progress:
        """A progress bar on stderr (bytes with speed and time left, or a fraction)."""
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        if transfer:
            return Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.stderr,
                disable=self.as_json and not self.stderr.is_terminal,
            )
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self.stderr,
            disable=self.as_json and not self.stderr.is_terminal,
        )


def remote(app: typer.Typer, name: str) -> Callable[[F], F]:
    """Register ``func(remote, ...)`` as command ``name`` with the connection options added."""

    def register(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "remote"]
        added = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=a, default=d)
            for n, a, d in (
                ("url", Url, None),
                ("token", Token, None),
                ("profile", ProfileName, None),
                ("as_json", Json, False),
            )
        ]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            connection = Remote(
                kwargs.pop("url"), kwargs.pop("token"), kwargs.pop("profile"), kwargs.pop("as_json")
            )
            try:
                return func(connection, **kwargs)
            finally:
                connection.close()

        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
        del command.__wrapped__  # typer reads the signature below, not func's
        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        app.command(name)(command)
        return func

    return register


def key_values(pairs: Sequence[str], what: str) -> dict[str, str]:
    """``["team=a", "stage=b"]`` -> ``{"team": "a", "stage": "b"}``; a pair without ``=`` is refused."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandFailed(f"{what} must be KEY=VALUE, not {pair!r}.", USAGE)
        result[key] = value
    return result
