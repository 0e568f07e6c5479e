"""``modelyard datasets``: upload (resumable, with a progress bar), list, show, preview, delete.

``upload`` sends the file in chunks at offsets (``client.datasets.upload``); after a broken
connection, a timeout or a 5xx it asks the server how much arrived and goes on from there.
A run that was killed resumes with ``--resume UPLOAD_ID``. The file's SHA-256 is computed on
the way and checked by the server when the upload completes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from modelyard.cli._remote import Column, Remote, remote

app = typer.Typer(
    help="Datasets: upload (resumable, with a progress bar), list, show, preview, delete.",
    no_args_is_help=True,
)

DEFAULT_CHUNK_MB = 16
COLUMNS: list[Column] = [
    ("id", lambda d: d.id),
    ("name", lambda d: d.name),
    ("rows", lambda d: d.row_count),
    ("columns", lambda d: len(d.columns)),
    ("format", lambda d: d.format + ("" if d.compression == "none" else f"+{d.compression}")),
    ("uploaded", lambda d: d.created_at),
    ("by", lambda d: d.created_by),
]
Dataset = Annotated[str, typer.Argument(help="The dataset's id or name.")]


@remote(app, "upload")
def upload(
    remote: Remote,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV, Parquet or JSON Lines; plain, .gz or .zst.",
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="The dataset's name (default: from the file name).")
    ] = None,
    description: Annotated[str, typer.Option(help="A description.")] = "",
    chunk_mb: Annotated[
        int, typer.Option(min=1, max=1024, help="Chunk size in MiB.")
    ] = DEFAULT_CHUNK_MB,
    resume: Annotated[
        str | None, typer.Option(help="Continue an earlier upload by its id.")
    ] = None,
) -> None:
    """Upload a dataset file in resumable chunks, showing progress."""
    client = remote.client
    with remote.progress(transfer=True) as bar:
        task = bar.add_task(file.name, total=file.stat().st_size)
        dataset = client.datasets.upload(
            file,
            name=name,
            description=description,
            chunk_bytes=chunk_mb << 20,
            resume=resume,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            on_retry=lambda why: bar.console.print(f"[yellow]retrying:[/] {why}"),
        )
    remote.done(
        f"dataset [bold]{dataset.name}[/] (id {dataset.id}): {dataset.row_count:,} rows, "
        f"{len(dataset.columns)} columns, sha256 {dataset.sha256[:12]}...",
        dataset,
    )


@remote(app, "list")
def list_datasets(
    remote: Remote,
    q: Annotated[str | None, typer.Option("--q", help="A part of the name.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """List datasets, newest first."""
    remote.emit(remote.client.datasets.list(q=q, limit=limit), COLUMNS)


@remote(app, "show")
def show(remote: Remote, dataset: Dataset) -> None:
    """Show a dataset: its hash, size, rows and column types."""
    found = remote.client.datasets.get(dataset)
    if remote.as_json:
        remote.emit(found)
        return
    remote.emit(
        found, [*COLUMNS, ("sha256", lambda d: d.sha256), ("bytes", lambda d: d.size_bytes)]
    )
    remote.emit(found.columns, [("column", lambda c: c.name), ("type", lambda c: c.type)])


@remote(app, "preview")
def preview(
    remote: Remote,
    dataset: Dataset,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """Show a dataset's first rows."""
    rows = remote.client.datasets.preview(dataset, limit=limit)
    if remote.as_json:
        remote.emit(rows)
        return
    names = [c.name for c in rows.columns]
    remote.emit(rows.rows, [(n, _field(n)) for n in names])


def _field(name: str) -> Callable[[dict[str, Any]], object]:
    return lambda row: row.get(name)


@remote(app, "delete")
def delete(
    remote: Remote,
    dataset: Dataset,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a dataset and its file (evaluations of it keep their metrics)."""
    if not yes:
        typer.confirm(f"Delete the dataset {dataset}?", abort=True)
    remote.client.datasets.delete(dataset)
    remote.done(f"dataset {dataset} deleted")
