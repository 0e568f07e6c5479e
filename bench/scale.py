"""The registry's and analytics' read paths at scale, on SQLite and on PostgreSQL.

Seeds a fresh database with ``--models`` registered models (10,000), each with three tags
(``team`` of 10, ``tier`` of 3, ``domain`` of 20) and the alias ``production``,
``--versions`` versions (100,000, spread evenly) and ``--evaluations`` succeeded evaluations
(1,000,000) of those versions on ``--datasets`` datasets (20), every version evaluated on
a few datasets and re-evaluated, so a leaderboard has to keep each version's latest score. The
rows are written with bulk inserts straight into the migrated schema (what the API would have
written, without a million job runs), then ``modelyard serve`` (one process) answers:

1. a search filtered by three tags (``?tag=team=..&tag=tier=..&tag=domain=..``), the query of
   mlflow#13633 (0.85 s reported there for a few hundred models);
2. an alias resolve (``GET /api/models/{name}/aliases/production``);
3. a version list (``GET /api/models/{name}/versions``, a page of 50);
4. the leaderboard of a dataset (``GET /api/analytics/leaderboard?dataset=..&metric=..``,
   a random dataset and metric each request), read from the scores index, which the seed
   fills as completed evaluations would have;
5. a model's metric trend (``GET /api/models/{name}/metrics?metric=mape``), a different
   model each request, so nearly every request is computed.

Each step sends ``--requests`` requests (200) over one keep-alive client, with random
parameters drawn from a seeded generator, after 20 warm-up requests to other parameters. It
prints p50 and p95 per step and backend against the target (p95 at most 5 ms) and writes the
figures to ``bench/out/scale-<time>.json``. PostgreSQL is the server at 127.0.0.1:5432
(``--pg-url``), where a database is created for the run and dropped at the end.

    .venv/bin/python bench/scale.py                              # both backends, full size
    .venv/bin/python bench/scale.py --backend sqlite --models 1000 --versions 10000 \\
        --evaluations 100000                                      # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT_DIR, start_modelyard, summarise

TARGET_P95_MS = 5.0
TEAMS = [f"t{i}" for i in range(10)]
TIERS = ["1", "2", "3"]
DOMAINS = [f"d{i}" for i in range(20)]
METRICS = ("mape", "rmse", "mae", "r2")
BATCH = 20_000


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(database_url: str, args: argparse.Namespace) -> dict[str, float]:
    """Bulk-insert the models, tags, aliases, versions, datasets and evaluations."""
    import sqlalchemy as sa

    from modelyard.evaluations.metrics import rank_of
    from modelyard.models import (
        Dataset,
        Evaluation,
        EvaluationScore,
        ModelAlias,
        ModelTag,
        ModelVersion,
        RegisteredModel,
    )

    rng = random.Random(args.seed)
    engine = sa.create_engine(database_url)
    timings: dict[str, float] = {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    per_model = max(1, args.versions // args.models)

    def insert(table: Any, rows: Iterator[dict[str, Any]], label: str) -> None:
        start = time.perf_counter()
        with engine.begin() as conn:
            for batch in _batches(rows):
                conn.execute(sa.insert(table), batch)
        timings[label] = time.perf_counter() - start
        print(f"  seeded {label} in {timings[label]:.1f} s", flush=True)

    insert(
        Dataset.__table__,
        (
            {
                "id": d + 1,
                "name": f"ds-{d}",
                "description": "",
                "filename": f"ds-{d}.parquet",
                "format": "parquet",
                "compression": "none",
                "sha256": uuid.uuid4().hex * 2,
                "size_bytes": 1000,
                "stored_bytes": 1000,
                "storage_key": uuid.uuid4().hex,
                "row_count": 1000,
                "columns": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}],
                "created_by": "bench",
                "created_at": now,
            }
            for d in range(args.datasets)
        ),
        "datasets",
    )
    insert(
        RegisteredModel.__table__,
        (
            {
                "id": m + 1,
                "name": f"model-{m:05d}",
                "description": "",
                "latest_version": per_model,
                "latest_flavor": "formula",
                "created_by": "bench",
                "created_at": now - dt.timedelta(seconds=args.models - m),
                "updated_at": now - dt.timedelta(seconds=args.models - m),
            }
            for m in range(args.models)
        ),
        "models",
    )
    insert(
        ModelTag.__table__,
        (
            {"model_id": m + 1, "key": key, "value": value}
            for m in range(args.models)
            for key, value in (
                ("team", rng.choice(TEAMS)),
                ("tier", rng.choice(TIERS)),
                ("domain", rng.choice(DOMAINS)),
            )
        ),
        "model tags",
    )
    insert(
        ModelVersion.__table__,
        (
            {
                "id": m * per_model + v + 1,
                "model_id": m + 1,
                "version": v + 1,
                "flavor": "formula",
                "parameters": {"kind": "linear", "intercept": 0.0, "coefficients": {"x": 1.0}},
                "metrics": {},
                "source": "",
                "description": "",
                "parent_version_id": (m * per_model + v) if v else None,
                "artifact_sha256": None,
                "artifact_size": None,
                "artifact_filename": None,
                "created_by": "bench",
                "created_at": now - dt.timedelta(seconds=per_model - v),
            }
            for m in range(args.models)
            for v in range(per_model)
        ),
        "versions",
    )
    insert(
        ModelAlias.__table__,
        (
            {
                "model_id": m + 1,
                "alias": "production",
                "version_id": m * per_model + rng.randrange(per_model) + 1,
                "updated_at": now,
            }
            for m in range(args.models)
        ),
        "aliases",
    )
    total_versions = args.models * per_model
    per_version = max(1, args.evaluations // total_versions)

    # the newest evaluation per (model, version, dataset), for the leaderboard's scores index
    latest: dict[tuple[int, int, int], tuple[int, dt.datetime, dict[str, float]]] = {}

    def evaluations() -> Iterator[dict[str, Any]]:
        eval_id = 0
        for m in range(args.models):
            for v in range(per_model):
                version_id = m * per_model + v + 1
                # each version on a few datasets, some of them twice (a re-evaluation)
                datasets = rng.sample(range(args.datasets), k=max(1, (per_version + 1) // 2))
                for e in range(per_version):
                    d = datasets[e % len(datasets)]
                    eval_id += 1
                    finished = now - dt.timedelta(seconds=per_version - e, microseconds=eval_id)
                    metrics = {
                        "mape": rng.uniform(1, 60),
                        "rmse": rng.uniform(0.1, 9),
                        "mae": rng.uniform(0.1, 7),
                        "r2": rng.uniform(-0.5, 1),
                    }
                    latest[(m, v, d)] = (eval_id, finished, metrics)
                    yield {
                        "id": eval_id,
                        "model_name": f"model-{m:05d}",
                        "version": v + 1,
                        "version_id": version_id,
                        "dataset_id": d + 1,
                        "dataset_name": f"ds-{d}",
                        "target": "y",
                        "features": {},
                        "slice_by": None,
                        "task": "regression",
                        "chunk_rows": 65536,
                        "priority": "normal",
                        "job_id": None,
                        "status": "succeeded",
                        "progress": 1.0,
                        "rows_done": 1000,
                        "rows_total": 1000,
                        "metrics": metrics,
                        "details": {},
                        "error": "",
                        "created_by": "bench",
                        "created_at": finished - dt.timedelta(seconds=2),
                        "started_at": finished - dt.timedelta(seconds=1),
                        "finished_at": finished,
                    }

    insert(Evaluation.__table__, evaluations(), "evaluations")
    insert(
        EvaluationScore.__table__,
        (
            {
                "dataset_id": d + 1,
                "model_name": f"model-{m:05d}",
                "version": v + 1,
                "metric": metric,
                "value": value,
                "rank": rank_of(metric, value),
                "evaluation_id": eval_id,
                "finished_at": finished,
            }
            for (m, v, d), (eval_id, finished, metrics) in latest.items()
            for metric, value in metrics.items()
        ),
        "evaluation scores",
    )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return timings


def _time(client: httpx.Client, url: str, params: dict[str, Any] | list[Any]) -> float:
    start = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} {params} -> {response.status_code}: {response.text[:300]}")
    return elapsed


def measure(server_url: str, token: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    rng = random.Random(args.seed + 1)
    models = [f"model-{m:05d}" for m in range(args.models)]
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=server_url + "/api", headers=headers, timeout=60) as client:

        def step(name: str, request: Callable[[], float]) -> None:
            for _ in range(20):
                request()
            seconds = [request() for _ in range(args.requests)]
            results[name] = summarise(seconds)

        def tag_search() -> float:
            params = [
                ("tag", f"team={rng.choice(TEAMS)}"),
                ("tag", f"tier={rng.choice(TIERS)}"),
                ("tag", f"domain={rng.choice(DOMAINS)}"),
                ("limit", "100"),
            ]
            return _time(client, "/models", params)

        step("tag search (3 tags)", tag_search)
        step(
            "alias resolve",
            lambda: _time(client, f"/models/{rng.choice(models)}/aliases/production", {}),
        )
        step(
            "version list",
            lambda: _time(client, f"/models/{rng.choice(models)}/versions", {"limit": 50}),
        )
        pairs = [(d, metric) for d in range(args.datasets) for metric in METRICS]

        def board() -> float:
            d, metric = rng.choice(pairs)
            return _time(client, "/analytics/leaderboard", {"dataset": f"ds-{d}", "metric": metric})

        step("leaderboard", board)
        step(
            "metric trend",
            lambda: _time(client, f"/models/{rng.choice(models)}/metrics", {"metric": "mape"}),
        )
    return results


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    import sqlalchemy as sa

    from modelyard.kit import migrate

    home = Path(tempfile.mkdtemp(prefix=f"modelyard-scale-{backend}-"))
    admin = None
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite:///{home / 'modelyard.db'}"
    else:
        pg_name = f"modelyard_scale_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{pg_name}"'))
        url = args.pg_url.rsplit("/", 1)[0] + f"/{pg_name}"
    try:
        print(
            f"{backend}: seeding {args.models:,} models, {args.versions:,} versions, "
            f"{args.evaluations:,} evaluations",
            flush=True,
        )
        migrate.upgrade(url)
        timings = seed(url, args)
        with start_modelyard(home, database_url=url, timeout=120) as server:
            assert server.token is not None
            results = measure(server.url, server.token, args)
            rss, pss = server.memory_mb()
        return {"seed_seconds": timings, "steps": results, "rss_mb": rss, "pss_mb": pss}
    finally:
        if admin is not None and pg_name is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()
        import shutil

        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "MODELYARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    print(f"{started:%Y-%m-%dT%H:%M:%SZ}  load average {load[0]:.1f}/{load[1]:.1f} at start")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    report: dict[str, Any] = {
        "started": started.isoformat(),
        "load_at_start": load,
        "arguments": vars(args) | {"pg_url": None},
        "backends": {},
    }
    for backend in backends:
        report["backends"][backend] = run_backend(backend, args)
    report["load_at_end"] = os.getloadavg()
    print()
    print(f"{'step':<24}" + "".join(f"{b + ' p50':>14}{b + ' p95':>14}" for b in backends))
    steps = next(iter(report["backends"].values()))["steps"]
    failed = []
    for step in steps:
        line = f"{step:<24}"
        for backend in backends:
            figures = report["backends"][backend]["steps"][step]
            line += f"{figures['p50_ms']:>11.2f} ms{figures['p95_ms']:>11.2f} ms"
            if figures["p95_ms"] > TARGET_P95_MS:
                failed.append(f"{step} on {backend}")
        print(line)
    print(
        f"target: p95 <= {TARGET_P95_MS:g} ms for each step on each backend: "
        + ("met" if not failed else "missed for " + "; ".join(failed))
    )
    for backend in backends:
        memory = report["backends"][backend]
        print(f"{backend}: server RSS {memory['rss_mb']:.0f} MiB (PSS {memory['pss_mb']:.0f})")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"scale-{started:%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"figures: {out}")


if __name__ == "__main__":
    main()
