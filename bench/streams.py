"""Thousands of event streams on one server process, while ordinary reads stay fast.

Starts ``modelyard serve`` (one process, the defaults, a temporary SQLite home), creates
``--users`` viewers (100) with a token each, then:

1. memory of the idle server (after one read and one stream, so that their code is loaded);
2. opens ``--streams`` (2,000) ``GET /api/jobs/events`` streams, spread evenly over the users
   (20 each, under the per-user limit of 32), at most ``--opening`` (256) handshakes at a
   time; each must answer 200 and send its first event before it counts as open;
3. memory with every stream open: the growth divided by the streams is the cost of one;
4. for ``--seconds`` (20 s): ``--connections`` (64) keep-alive connections read
   ``GET /api/models`` (a page of 100, ``--models`` registered) back to back, while an admin
   submits ``--jobs-per-second`` (2) short jobs whose events go through every stream's filter
   (each viewer sees only their own jobs, so the fan-out is checked, not sent) and every
   stream keeps reading. A stream that ends, a read that is not 200 or any connection error
   is an error;
5. a stream over the per-user limit is refused with 429, and reads still answer meanwhile;
6. closes the streams and reads the memory again.

It prints the reads' p50/p95/p99 and rate, the errors (target: 0), the memory per stream and
the ratios against the targets (reads p99 at most 50 ms) and the seed's figures (250
concurrent users, API 0.3 s, 1.2 GB). Everything is bounded: at most ``--deadline`` (300 s)
in all, after which it stops what it started; figures go to ``bench/out/streams-<time>.json``.

    .venv/bin/python bench/streams.py
    .venv/bin/python bench/streams.py --streams 500 --seconds 10     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT_DIR, Server, start_modelyard, summarise

TARGET_P99_MS = 50.0
SEED_USERS = 250
SEED_API_SECONDS = 0.3
SEED_MEMORY_MB = 1200.0


@dataclass
class Counts:
    opened: int = 0
    open_errors: list[str] = field(default_factory=list)
    dropped: int = 0
    stream_bytes: int = 0
    read_errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def make_users(database_url: str, count: int) -> list[str]:
    """``count`` viewers with a token each (the password hash is computed once)."""
    from modelyard.auth import service as auth_service
    from modelyard.auth.schemas import Role, UserCreate
    from modelyard.kit.db import Database
    from modelyard.models import User

    db = Database(database_url)
    tokens = []
    try:
        with db.session() as session:
            first = auth_service.create_user(
                session,
                UserCreate(name="viewer-0", password="bench-password", role=Role.viewer),
                actor="bench",
            )
            users = [first]
            for index in range(1, count):
                user = User(
                    name=f"viewer-{index}", password_hash=first.password_hash, role=first.role
                )
                session.add(user)
                users.append(user)
            session.flush()
            for user in users:
                created = auth_service.create_token(
                    session, user, name="bench", lifetime=dt.timedelta(hours=2), actor="bench"
                )
                tokens.append(created.token)
    finally:
        db.dispose()
    return tokens


async def _request_head(host: str, port: int, path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()


async def open_stream(
    host: str, port: int, token: str, counts: Counts, stop: asyncio.Event, gate: asyncio.Semaphore
) -> None:
    """One SSE client: connect, check the head and the first event, then read until stopped."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with gate:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 60)
            writer.write(await _request_head(host, port, "/api/jobs/events", token))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                counts.open_errors.append(f"status {status}")
                return
            first = await asyncio.wait_for(reader.read(65536), 60)
            if b"job events" not in first:
                counts.open_errors.append(f"first chunk {first[:80]!r}")
                return
            counts.opened += 1
        while not stop.is_set():
            read = asyncio.ensure_future(reader.read(65536))
            halt = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({read, halt}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                break
            halt.cancel()
            data = read.result()
            if not data:
                counts.dropped += 1
                return
            counts.stream_bytes += len(data)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
        counts.open_errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def reader_loop(
    host: str, port: int, token: str, counts: Counts, until: float, path: str
) -> None:
    """One keep-alive connection reading ``path`` back to back until ``until``."""
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    try:
        while time.monotonic() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await asyncio.wait_for(reader.readexactly(length), 30)
            elapsed = time.perf_counter() - start
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                counts.read_errors.append(f"status {status}")
            else:
                counts.latencies.append(elapsed)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        counts.read_errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def submit_jobs(base: str, admin: str, rate: float, until: float) -> int:
    submitted = 0
    if rate <= 0:
        return 0
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as c:
        while time.monotonic() < until:
            r = await c.post(
                "/api/jobs", json={"kind": "sleep", "params": {"seconds": 0.2, "steps": 4}}
            )
            if r.status_code == 201:
                submitted += 1
            await asyncio.sleep(1 / rate)
    return submitted


async def run(args: argparse.Namespace, server: Server, tokens: list[str]) -> dict[str, Any]:
    host, port_text = server.url.removeprefix("http://").split(":")
    port = int(port_text)
    admin = server.token or ""
    counts = Counts()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(args.opening)

    # 1. idle, after one read and one stream
    async with httpx.AsyncClient(base_url=server.url) as client:
        auth = {"Authorization": f"Bearer {admin}"}
        for index in range(args.models):
            await client.post("/api/models", json={"name": f"bench-{index:04d}"}, headers=auth)
        await client.get("/api/models?limit=100", headers=auth)
        async with client.stream("GET", "/api/jobs/events", headers=auth) as stream:
            async for _ in stream.aiter_bytes():
                break
    await asyncio.sleep(1.0)
    idle_rss, idle_pss = server.memory_mb()

    # 2. the streams
    opened_at = time.perf_counter()
    tasks = [
        asyncio.create_task(open_stream(host, port, tokens[i % len(tokens)], counts, stop, gate))
        for i in range(args.streams)
    ]
    while counts.opened + len(counts.open_errors) < args.streams:
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.2)
    open_seconds = time.perf_counter() - opened_at
    await asyncio.sleep(2.0)
    streams_rss, streams_pss = server.memory_mb()

    # 4. reads under the streams, jobs going through the fan-out
    until = time.monotonic() + args.seconds
    load_started = time.perf_counter()
    readers = [
        asyncio.create_task(reader_loop(host, port, admin, counts, until, "/api/models?limit=100"))
        for _ in range(args.connections)
    ]
    jobs = asyncio.create_task(submit_jobs(server.url, admin, args.jobs_per_second, until))
    await asyncio.gather(*readers)
    submitted = await jobs
    load_seconds = time.perf_counter() - load_started
    loaded_rss, loaded_pss = server.memory_mb()

    # 5. one stream too many for one user, and a read beside it
    async with httpx.AsyncClient(base_url=server.url) as client:
        viewer = {"Authorization": f"Bearer {tokens[0]}"}
        extra = []
        per_user = args.streams // len(tokens)
        for _ in range(max(0, 33 - per_user)):
            extra.append(client.stream("GET", "/api/jobs/events", headers=viewer))
        refused_status = None
        opened_extra = []
        for context in extra:
            response = await context.__aenter__()
            opened_extra.append(context)
            if response.status_code != 200:
                refused_status = response.status_code
                break
        read = await client.get("/api/models?limit=100", headers=viewer)
        for context in opened_extra:
            await context.__aexit__(None, None, None)

    # 6. close everything
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(3.0)
    closed_rss, closed_pss = server.memory_mb()

    reads = summarise(counts.latencies)
    per_stream_kb = (streams_rss - idle_rss) * 1024 / max(counts.opened, 1)
    errors = len(counts.open_errors) + counts.dropped + len(counts.read_errors)
    return {
        "streams_wanted": args.streams,
        "streams_opened": counts.opened,
        "open_seconds": round(open_seconds, 2),
        "open_errors": counts.open_errors[:20],
        "open_error_count": len(counts.open_errors),
        "streams_dropped": counts.dropped,
        "stream_bytes": counts.stream_bytes,
        "reads": {**reads, "per_second": reads["n"] / load_seconds},
        "read_errors": counts.read_errors[:20],
        "read_error_count": len(counts.read_errors),
        "errors": errors,
        "jobs_submitted": submitted,
        "over_limit_status": refused_status,
        "read_beside_refusal_status": read.status_code,
        "memory_mb": {
            "idle": {"rss": idle_rss, "pss": idle_pss},
            "streams_open": {"rss": streams_rss, "pss": streams_pss},
            "after_load": {"rss": loaded_rss, "pss": loaded_pss},
            "streams_closed": {"rss": closed_rss, "pss": closed_pss},
        },
        "per_stream_kb": per_stream_kb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--opening", type=int, default=256)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--jobs-per-second", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=300.0)
    args = parser.parse_args()
    raise_open_files()
    started = time.time()
    load_before = os.getloadavg()
    with start_modelyard(timeout=180) as server:
        assert server.home is not None
        database_url = f"sqlite:///{server.home / 'modelyard.db'}"
        tokens = make_users(database_url, args.users)
        result = asyncio.run(asyncio.wait_for(run(args, server, tokens), args.deadline))
    reads = result["reads"]
    memory = result["memory_mb"]
    result |= {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/streams.py", *sys.argv[1:]]),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "wall_seconds": round(time.time() - started, 1),
        "ratios": {
            "p99_vs_target": reads["p99_ms"] / TARGET_P99_MS,
            "streams_vs_seed_users": result["streams_opened"] / SEED_USERS,
            "seed_api_vs_p99": SEED_API_SECONDS * 1000 / reads["p99_ms"],
            "seed_memory_vs_rss": SEED_MEMORY_MB / memory["after_load"]["rss"],
        },
    }
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"streams-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(
        f"streams: {result['streams_opened']}/{result['streams_wanted']} open in "
        f"{result['open_seconds']} s, {result['streams_dropped']} dropped, "
        f"{result['open_error_count']} failed to open"
    )
    print(
        f"reads (GET /api/models, {args.connections} connections, {args.seconds:g} s): "
        f"{reads['n']} at {reads['per_second']:.0f}/s, p50 {reads['p50_ms']:.1f} ms, "
        f"p95 {reads['p95_ms']:.1f} ms, p99 {reads['p99_ms']:.1f} ms "
        f"(target <= {TARGET_P99_MS:g} ms), {result['read_error_count']} errors"
    )
    print(
        f"memory RSS MB: idle {memory['idle']['rss']:.0f}, {result['streams_opened']} streams "
        f"{memory['streams_open']['rss']:.0f} ({result['per_stream_kb']:.1f} KB per stream), "
        f"after load {memory['after_load']['rss']:.0f}, closed {memory['streams_closed']['rss']:.0f}"
    )
    print(
        f"over the per-user limit: {result['over_limit_status']}, a read beside it: "
        f"{result['read_beside_refusal_status']}; errors in all: {result['errors']}"
    )
    print(
        f"against the seed: {result['ratios']['streams_vs_seed_users']:.1f}x its 250 users, "
        f"{result['ratios']['seed_api_vs_p99']:.1f}x faster than its 0.3 s API at p99, "
        f"{result['ratios']['seed_memory_vs_rss']:.1f}x less than its 1.2 GB"
    )
    print(f"figures: {out}")


if __name__ == "__main__":
    main()
