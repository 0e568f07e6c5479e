"""What an idle server has imported, each check in a fresh interpreter.

The numeric and data libraries (numpy, pyarrow, scikit-learn, ...) load with the first job or
request that computes, not with the server; the Redis and PostgreSQL drivers load only when
the settings name them; the command line's libraries (typer, click, rich) and httpx never
load in the server. huey and cashews import those drivers for themselves, so they are
imported with the drivers hidden (:mod:`modelyard.kit.optional_imports`), and the second test
checks that a Redis or PostgreSQL queue and a Redis cache still work after that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelyard.kit import migrate

NOT_AT_IDLE = (
    "numpy",
    "pyarrow",
    "pandas",
    "sklearn",
    "scipy",
    "matplotlib",
    "onnxruntime",
    "skops",
    "rocksdict",
    "redis",
    "psycopg",
    "weasyprint",
    # the command line's libraries: `modelyard serve` execs a fresh interpreter for the server
    "typer",
    "click",
    "rich",
    "httpx",
)
REDIS_URL = "redis://127.0.0.1:6379/0"


def _run(code: str, home: Path, **env: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**clean, "MODELYARD_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_idle_server_has_not_imported_data_libraries_or_unused_drivers(tmp_path: Path) -> None:
    """Driven over plain ASGI calls: a TestClient would import httpx (and httpx its command
    line's click and rich) itself."""
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    loaded = _run(
        f"""
        import asyncio, json, sys
        from modelyard.app import create_app

        async def get(app, path):
            sent = []
            scope = {{
                "type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1",
                "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                "query_string": b"", "root_path": "", "headers": [(b"host", b"127.0.0.1")],
                "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
            }}

            async def receive():
                return {{"type": "http.request", "body": b"", "more_body": False}}

            async def send(message):
                sent.append(message)

            await app(scope, receive, send)
            return sent[0]["status"]

        async def main():
            app = create_app()
            async with app.router.lifespan_context(app):  # job workers, live loops
                assert await get(app, "/healthz") == 200
                assert await get(app, "/login") == 200  # the web UI's templates
                await asyncio.sleep(1.5)  # the background loops' first ticks

        asyncio.run(main())
        print(json.dumps(sorted(m for m in {NOT_AT_IDLE!r} if m in sys.modules)))
        """,
        tmp_path,
        MODELYARD_DATABASE_URL=url,
    )
    assert loaded == []


SERVER_ONLY = ("fastapi", "starlette", "sqlalchemy", "alembic", "huey", "granian", "jinja2")


def test_schemas_modules_import_pydantic_only(tmp_path: Path) -> None:
    """The Python client returns the server's own schemas: importing them loads no server."""
    loaded = _run(
        f"""
        import importlib, json, pathlib, sys
        import modelyard

        root = pathlib.Path(modelyard.__file__).parent
        names = sorted(
            "modelyard." + ".".join(path.relative_to(root).with_suffix("").parts)
            for path in root.rglob("schemas.py")
        )
        for name in names:
            importlib.import_module(name)
        print(json.dumps({{
            "schemas": len(names),
            "server": sorted(m for m in {SERVER_ONLY + NOT_AT_IDLE!r} if m in sys.modules),
        }}))
        """,
        tmp_path,
    )
    assert loaded["schemas"] >= 10 and loaded["server"] == []


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False
    return True


@pytest.mark.postgres
def test_redis_and_postgresql_backends_work_after_a_hidden_import(
    tmp_path: Path, postgres_url: str
) -> None:
    if not _redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    queue = f"imports-test-{os.getpid()}"
    loaded = _run(
        f"""
        import asyncio, json, sys
        import modelyard.app  # huey and cashews load here, without the drivers
        hidden = sorted(m for m in ("redis", "psycopg") if m in sys.modules)

        from modelyard.cache import Cache
        from modelyard.config import Settings
        from modelyard.jobs.queue import create_huey

        results = {{"hidden": hidden}}
        for backend, extra in (
            ("redis", {{"redis_url": {REDIS_URL!r}}}),
            ("postgres", {{"database_url": {postgres_url!r}}}),
        ):
            settings = Settings(**extra)
            settings.jobs.backend = backend
            settings.jobs.queue_name = {queue!r}
            huey = create_huey(settings)
            huey.storage.enqueue(b"ping", 0)
            results[backend] = huey.storage.dequeue().decode()
            huey.storage.flush_queue()

        async def cache_round_trip():
            cache = await Cache({REDIS_URL + "?client_side=true"!r}, key_prefix="imports-test:").start()
            try:
                await cache.set("imports", {queue!r}, b"pong")
                return (await cache.get("imports", {queue!r})).decode()
            finally:
                await cache.delete("imports", {queue!r})
                await cache.close()

        results["cache"] = asyncio.run(cache_round_trip())
        print(json.dumps(results))
        """,
        tmp_path,
    )
    assert loaded == {"hidden": [], "redis": "ping", "postgres": "ping", "cache": "pong"}
