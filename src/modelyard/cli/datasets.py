"""``modelyard datasets``: upload a file to a server (resumable, with a progress bar); list.

``upload`` talks HTTP to a running server (``--url``/``MODELYARD_URL``, ``--token``/
``MODELYARD_TOKEN``) with the chunked upload API: it sends the file in chunks at offsets,
and after a broken connection, a timeout or a 5xx it asks the server how much arrived and
goes on from there. A run that was killed resumes with ``--resume UPLOAD_ID``. The file's
SHA-256 is computed on the way and checked by the server when the upload completes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

app = typer.Typer(
    help="Datasets: upload (resumable, with a progress bar) and list.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

DEFAULT_CHUNK_MB = 16
RETRIES = 8

Url = Annotated[str, typer.Option("--url", envvar="MODELYARD_URL", help="The server's base URL.")]
Token = Annotated[
    str, typer.Option("--token", envvar="MODELYARD_TOKEN", help="An API token (editor or admin).")
]


class UploadFailed(Exception):
    """The server refused the upload; the message is its problem detail."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    return str(body.get("detail") or body) if isinstance(body, dict) else str(body)


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise UploadFailed(_detail(response))
    result: dict[str, Any] = response.json()
    return result


def upload_file(
    client: httpx.Client,
    path: Path,
    *,
    name: str | None = None,
    description: str = "",
    chunk_bytes: int = DEFAULT_CHUNK_MB << 20,
    resume: str | None = None,
    retries: int = RETRIES,
    on_progress: Callable[[int], None] = lambda _: None,
    on_retry: Callable[[str], None] = lambda _: None,
    backoff_seconds: float = 0.5,
) -> dict[str, Any]:
    """Upload ``path`` through ``client`` (based at the server's URL); returns the dataset."""
    size = path.stat().st_size
    if resume:
        upload = _check(client.get(f"/api/datasets/uploads/{resume}"))
    else:
        body: dict[str, Any] = {"filename": path.name, "size": size, "description": description}
        if name:
            body["name"] = name
        upload = _check(client.post("/api/datasets/uploads", json=body))
    upload_id = upload["id"]
    offset = int(upload["received"])
    digest = hashlib.sha256()
    hashed = 0
    failures = 0
    with path.open("rb") as source, path.open("rb") as behind:

        def hash_up_to(end: int, chunk: bytes = b"", start: int = -1) -> None:
            """Hash the file's bytes up to ``end`` that are not hashed yet, in order."""
            nonlocal hashed
            if start == hashed and start + len(chunk) == end:
                digest.update(chunk)
                hashed = end
                return
            behind.seek(hashed)
            while hashed < end:
                block = behind.read(min(chunk_bytes, end - hashed))
                digest.update(block)
                hashed += len(block)

        hash_up_to(offset)  # a resumed upload: what the server already has
        on_progress(offset)
        while offset < size:
            source.seek(offset)
            chunk = source.read(chunk_bytes)
            reason = ""
            try:
                response: httpx.Response | None = client.put(
                    f"/api/datasets/uploads/{upload_id}",
                    params={"offset": offset},
                    content=chunk,
                    headers={"Content-Type": "application/octet-stream"},
                )
            except httpx.TransportError as exc:
                response, reason = None, f"{type(exc).__name__}: {exc}"
            if response is not None and response.status_code < 500 and response.status_code != 409:
                received = int(_check(response)["received"])
                hash_up_to(received, chunk, offset)
                offset = received
                failures = 0
                on_progress(offset)
                continue
            failures += 1
            if failures > retries:
                raise UploadFailed(
                    f"The upload failed {failures} times in a row; resume it later with "
                    f"--resume {upload_id}."
                )
            on_retry(_detail(response) if response is not None else reason)
            time.sleep(backoff_seconds * failures)
            offset = int(_check(client.get(f"/api/datasets/uploads/{upload_id}"))["received"])
            hash_up_to(offset)
            on_progress(offset)
    return _check(
        client.post(
            f"/api/datasets/uploads/{upload_id}/complete",
            json={"sha256": digest.hexdigest()},
            timeout=httpx.Timeout(30.0, read=None),
        )
    )


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(60.0, connect=10.0),
    )


@app.command("upload")
def upload(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV, Parquet or JSON Lines; plain, .gz or .zst.",
        ),
    ],
    url: Url = "http://127.0.0.1:8000",
    token: Token = "",
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
    if not token:
        err.print(
            "[red]No token:[/] pass --token or set MODELYARD_TOKEN (create one with `modelyard token create`)."
        )
        raise typer.Exit(2)
    size = file.stat().st_size
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with _client(url, token) as client, Progress(*columns, console=err) as progress:
        task = progress.add_task(file.name, total=size)
        try:
            dataset = upload_file(
                client,
                file,
                name=name,
                description=description,
                chunk_bytes=chunk_mb << 20,
                resume=resume,
                on_progress=lambda done: progress.update(task, completed=done),
                on_retry=lambda why: progress.console.print(f"[yellow]retrying:[/] {why}"),
            )
        except UploadFailed as exc:
            progress.stop()
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
        except httpx.HTTPError as exc:
            progress.stop()
            err.print(f"[red]Cannot reach {url}:[/] {exc}")
            raise typer.Exit(1) from exc
    console.print(
        f"dataset [bold]{dataset['name']}[/] (id {dataset['id']}): {dataset['row_count']:,} rows, "
        f"{len(dataset['columns'])} columns, sha256 {dataset['sha256'][:12]}..."
    )


@app.command("list")
def list_datasets(url: Url = "http://127.0.0.1:8000", token: Token = "") -> None:
    """List the server's datasets."""
    with _client(url, token) as client:
        try:
            page = _check(client.get("/api/datasets", params={"limit": 1000}))
        except (UploadFailed, httpx.HTTPError) as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
    table = Table("id", "name", "rows", "columns", "format", "uploaded", "by")
    for item in page["items"]:
        fmt = item["format"] + ("" if item["compression"] == "none" else f"+{item['compression']}")
        table.add_row(
            str(item["id"]),
            item["name"],
            f"{item['row_count']:,}",
            str(len(item["columns"])),
            fmt,
            item["created_at"][:19],
            item["created_by"],
        )
    console.print(table)
