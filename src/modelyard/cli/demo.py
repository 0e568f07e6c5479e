"""``modelyard demo``: migrate, load demo data, print the admin's credentials, optionally serve."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.panel import Panel
from sqlalchemy.orm import Session

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate, UserUpdate
from modelyard.cli._context import session
from modelyard.cli._demo_content import load_all
from modelyard.config import get_settings
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.models import RegisteredModel, User
from modelyard.registry import service as registry
from modelyard.registry.schemas import ModelCreate, VersionCreate

console = Console()
ACTOR = "demo"

DEMO_MODELS: list[dict[str, Any]] = [
    {
        "name": "latency-linear",
        "description": "p99 write latency (ms) from offered load and value size: a linear baseline.",
        "tags": {"team": "storage", "target": "rocksdb"},
        "versions": [
            {"kind": "linear", "intercept": 0.8, "coef": {"offered_kops": 0.021, "value_kb": 0.35}},
            {"kind": "linear", "intercept": 0.6, "coef": {"offered_kops": 0.024, "value_kb": 0.31}},
        ],
        "aliases": {"production": 2, "previous": 1},
    },
    {
        "name": "cpu-per-put",
        "description": "CPU microseconds per put from value size, for capacity planning.",
        "tags": {"team": "capacity"},
        "versions": [
            {"kind": "linear", "intercept": 18.0, "coef": {"value_bytes": 0.017}},
        ],
        "aliases": {"production": 1},
    },
    {
        "name": "disk-growth",
        "description": "Daily disk growth (GB/day) from ingest rate and compression ratio.",
        "tags": {"team": "capacity", "stage": "experimental"},
        "versions": [
            {"kind": "linear", "intercept": 0.0, "coef": {"ingest_mb_s": 84.4}},
            {
                "kind": "linear",
                "intercept": 0.2,
                "coef": {"ingest_mb_s": 61.0, "compression_ratio": -3.1},
            },
            {
                "kind": "linear",
                "intercept": 0.1,
                "coef": {"ingest_mb_s": 58.7, "compression_ratio": -2.8},
            },
        ],
        "aliases": {"staging": 3, "production": 2},
    },
]


def _ensure_admin(s: Session, name: str) -> tuple[str, str]:
    password = secrets.token_urlsafe(12)
    if s.scalar(sa.select(User.id).where(User.name == name)) is None:
        auth_service.create_user(
            s, UserCreate(name=name, password=password, role=Role.admin), actor=ACTOR
        )
    else:
        auth_service.update_user(
            s, name, UserUpdate(password=password, role=Role.admin, disabled=False), actor=ACTOR
        )
    user = auth_service.get_user(s, name)
    token = auth_service.create_token(
        s, user, name="demo", lifetime=dt.timedelta(days=30), actor=ACTOR
    )
    return password, token.token


def _load_models(s: Session) -> int:
    loaded = 0
    for spec in DEMO_MODELS:
        if s.scalar(sa.select(RegisteredModel.id).where(RegisteredModel.name == spec["name"])):
            continue
        registry.create_model(
            s,
            ModelCreate(name=spec["name"], description=spec["description"], tags=spec["tags"]),
            actor=ACTOR,
        )
        for number, params in enumerate(spec["versions"], start=1):
            registry.create_version(
                s,
                spec["name"],
                VersionCreate(
                    flavor="formula",
                    parameters=params,
                    source="demo",
                    description=f"demo version {number}",
                    parent=f"{spec['name']}/{number - 1}" if number > 1 else None,
                ),
                None,
                actor=ACTOR,
            )
        for alias, number in spec["aliases"].items():
            registry.set_alias(s, spec["name"], alias, number, actor=ACTOR)
        loaded += 1
    return loaded


def demo(
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after loading.")] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--no-live",
            help="Also create an embedded RocksDB target under a workload (it uses up to one "
            "core in its open-loop phases) and two deployments following it.",
        ),
    ] = True,
    admin: Annotated[str, typer.Option(help="Name of the demo admin.")] = "admin",
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Migrate, load demo data and an admin (password and token printed), then serve.

    Demo data: formula models with versions, tags and aliases; the S_max models with the
    validation recorded against db_bench; two observation datasets with an evaluation job per
    version; a weekly report job; with --live, a RocksDB target and two deployments.
    """
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    with session() as s:
        password, token = _ensure_admin(s, admin)
        loaded = _load_models(s)
    with console.status("loading S_max validation, datasets and jobs"):
        database = Database(settings.resolved_database_url)
        try:
            content = load_all(database, settings, admin, live=live)
        finally:
            database.dispose()
    console.print(
        Panel.fit(
            f"database  {settings.resolved_database_url}\n"
            f"models    {loaded} demo models, {len(content.smax_models)} S_max models loaded\n"
            f"datasets  {', '.join(content.datasets) or 'already loaded'}\n"
            f"jobs      {len(content.jobs)} queued (evaluations, a weekly report)\n"
            f"live      {', '.join(content.deployments) or 'off or already running'}\n"
            f"user      {admin}\npassword  {password}\ntoken     {token}\n\n"
            f"web UI    http://{host}:{port}/\nAPI docs  http://{host}:{port}/docs\n"
            f"try       curl -H 'Authorization: Bearer {token}' http://{host}:{port}/api/models",
            title="modelyard demo",
        )
    )
    if serve:
        from modelyard.cli.serve import serve as run_server

        run_server(host=host, port=port, workers=1, access_log=False)
