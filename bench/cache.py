"""The shared cache where it is used: latency of the cached reads without and with it, and the
cost of an S_max prediction computed, found in this process, and found in Redis.

    .venv/bin/python bench/cache.py [--evaluations 5000] [--requests 200]

HTTP part: one SQLite home seeded with ``--evaluations`` succeeded evaluations (50 models x 10
versions on one dataset), served by ``modelyard serve --workers 1`` three times: cache off,
``mem://`` and Redis client-side (db 14, a key prefix of its own, removed at the end). For
each endpoint it prints p50/p95 of sequential requests: ``hit`` repeats one query, ``miss``
asks a new metric each time (the generation read plus the full computation).

Prediction part: one ``smax_resource`` prediction computed, then asked again of the same
``Predictor`` (first level), then asked of a fresh ``Predictor`` sharing the Redis cache (what
another process or a restarted one sees).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import start_modelyard, summarise

REDIS = "redis://127.0.0.1:6379/14"


def seed(url: str, evaluations: int) -> None:
    import sqlalchemy as sa

    from modelyard.kit import migrate
    from modelyard.kit.db import Database
    from modelyard.models import Dataset, Evaluation, ModelVersion, RegisteredModel

    migrate.upgrade(url)
    db = Database(url)
    models, versions = 50, 10
    per_version = max(1, evaluations // (models * versions))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    names = ("mape", "rmse", "mae", "r2", "max_error", "medae", "bias", "count")
    with db.session() as s:
        ds = Dataset(
            name="bench-ds",
            format="csv",
            compression="none",
            sha256="0" * 64,
            size_bytes=1,
            stored_bytes=1,
            storage_key=uuid.uuid4().hex,
            row_count=1,
            created_by="bench",
        )
        s.add(ds)
        s.flush()
        for m in range(models):
            model = RegisteredModel(name=f"bench-m{m}", created_by="bench", latest_version=versions)
            s.add(model)
            s.flush()
            for v in range(1, versions + 1):
                version = ModelVersion(
                    model_id=model.id, version=v, flavor="formula", created_by="bench"
                )
                s.add(version)
                s.flush()
                for _ in range(per_version):
                    s.add(
                        Evaluation(
                            model_name=model.name,
                            version=v,
                            version_id=version.id,
                            dataset_id=ds.id,
                            dataset_name=ds.name,
                            target="y",
                            task="regression",
                            chunk_rows=1000,
                            status="succeeded",
                            created_by="bench",
                            created_at=now,
                            finished_at=now - dt.timedelta(seconds=random.random() * 1e5),
                            metrics={name: random.random() for name in names},
                        )
                    )
        s.flush()
        total = s.scalar(sa.select(sa.func.count()).select_from(Evaluation))
    db.dispose()
    print(f"seeded {total} evaluations")


def measure(client: httpx.Client, path: str, params: list[dict[str, object]]) -> dict[str, float]:
    for p in params[:5]:
        client.get(path, params=p).raise_for_status()  # warm-up (and first miss)
    times = []
    for p in params:
        start = time.perf_counter()
        client.get(path, params=p).raise_for_status()
        times.append(time.perf_counter() - start)
    return summarise(times)


def http_part(requests: int, evaluations: int) -> None:
    import tempfile

    seeded = Path(tempfile.mkdtemp(prefix="modelyard-bench-cache-")) / "modelyard.db"
    seed(f"sqlite:///{seeded}", evaluations)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    modes = {
        "off": {"MODELYARD_CACHE__ENABLED": "false"},
        "mem://": {},
        "redis client-side": {
            "MODELYARD_CACHE__URL": f"{REDIS}?client_side=true",
            "MODELYARD_CACHE__KEY_PREFIX": prefix,
        },
    }
    endpoints = {
        "trend": ("/api/models/bench-m0/metrics", {"metric": "mape"}),
    }
    rows = []
    floor: list[float] = []
    for mode, env in modes.items():
        env = {"MODELYARD_JOBS__WORKERS": "0", "MODELYARD_LIVE__ENABLED": "false", **env}
        home = Path(tempfile.mkdtemp(prefix="modelyard-bench-cache-"))
        shutil.copy(seeded, home / "modelyard.db")  # each server its own admin user
        with start_modelyard(home, env=env) as server:
            headers = {"Authorization": f"Bearer {server.token}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                floor.append(measure(client, "/healthz", [{}] * requests)["p50_ms"])
                for name, (path, base) in endpoints.items():
                    hit = measure(client, path, [base] * requests)
                    # a new metric name is a new key
                    varied = [{**base, "metric": f"m{i}"} for i in range(requests)]
                    miss = measure(client, path, varied) if mode != "off" else hit
                    rows.append((name, mode, hit, miss))
    print(f"\nHTTP floor (GET /healthz p50 per server): {', '.join(f'{f:.2f}' for f in floor)} ms")
    print(f"{'endpoint':12} {'cache':18} {'hit p50':>9} {'p95':>8} {'miss p50':>9} {'p95':>8}")
    off = {name: hit["p50_ms"] for name, mode, hit, _ in rows if mode == "off"}
    for name, mode, hit, miss in rows:
        ratio = off[name] / hit["p50_ms"]
        print(
            f"{name:12} {mode:18} {hit['p50_ms']:8.2f}  {hit['p95_ms']:7.2f}  "
            f"{miss['p50_ms']:8.2f}  {miss['p95_ms']:7.2f}   x{ratio:.1f} vs off"
        )
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(seeded.parent, ignore_errors=True)
    _drop_keys(prefix)


def _drop_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def in_process_part(evaluations: int) -> None:
    """The same reads without HTTP: the computation, and the generation read plus a lookup."""
    import asyncio
    import tempfile

    from modelyard.cache import Cache
    from modelyard.evaluations import service as evaluations_service
    from modelyard.evaluations._cached import trend_key
    from modelyard.kit.db import Database

    path = Path(tempfile.mkdtemp(prefix="modelyard-bench-cache-")) / "modelyard.db"
    seed(f"sqlite:///{path}", evaluations)
    db = Database(f"sqlite:///{path}")
    cache = Cache("mem://?size=100")

    def timed(work, n: int = 30) -> float:  # type: ignore[no-untyped-def]
        work()
        start = time.perf_counter()
        for _ in range(n):
            work()
        return (time.perf_counter() - start) / n * 1e3

    async def lookups() -> None:
        await cache.start()
        with db.session() as s:
            cases = {
                "trend": (
                    lambda: (
                        evaluations_service.trend(s, "bench-m0", "mape", None)
                        .model_dump_json()
                        .encode()
                    ),
                    lambda: trend_key(s, "bench-m0", "mape", None)[1],
                ),
            }
            print(f"\nin process, {evaluations} evaluations (ms)")
            print(f"{'':12} {'compute':>9} {'generation':>11} {'mem:// get':>11}")
            for name, (compute, key) in cases.items():
                cache_key = key()
                await cache.set(name, cache_key, compute())
                loop_get = []
                for _ in range(200):
                    start = time.perf_counter()
                    await cache.get(name, cache_key)
                    loop_get.append(time.perf_counter() - start)
                print(
                    f"{name:12} {timed(compute):9.2f} {timed(key):11.3f} "
                    f"{statistics.median(loop_get) * 1e3:11.3f}"
                )
        await cache.close()

    asyncio.run(lookups())
    db.dispose()
    shutil.rmtree(path.parent, ignore_errors=True)


def prediction_part() -> None:
    from modelyard.cache import Cache
    from modelyard.deployments._predict import Predictor
    from modelyard.perfmodels import CpuCost, DeviceEnvelope, Profile

    profile = Profile.model_validate(
        {
            "name": "bench",
            "cores": 2,
            "cpu_available_cores": 2.0,
            "foreground_cpu_sec_per_op": 8e-6,
            "flush_costs": {"default": CpuCost(cpu_sec_per_record=0.5e-6, cpu_sec_per_byte=1e-9)},
            "compaction_costs": {
                "default": CpuCost(cpu_sec_per_record=1e-6, cpu_sec_per_byte=1e-9)
            },
            "device": DeviceEnvelope(
                seq_write_bytes_per_sec=1e9,
                seq_read_bytes_per_sec=2e9,
                mixed_read_bytes_per_sec=0.25e9,
                mixed_write_bytes_per_sec=0.25e9,
                rand_write_bytes_per_sec=0.1e9,
            ),
            "compaction_bytes_per_cpu_sec": 200e6,
        }
    )
    parameters = {"kind": "smax_resource", "profile": profile.model_dump(mode="json")}
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    shared = Cache(f"{REDIS}?client_side=true", key_prefix=prefix).start_in_thread()
    try:
        computed, local, remote = [], [], []
        for i in range(5):
            features = {
                "value_size": 400 + 16 * i,
                "num": 1_000_000,
                "duration": 60,
                "benchmarks": "fillrandom",
                "compression_type": "none",
                "cpu_available_cores": 2.0,
            }
            first = Predictor(shared=shared)
            start = time.perf_counter()
            expected = first.predict("formula", parameters, {}, features)
            computed.append(time.perf_counter() - start)
            start = time.perf_counter()
            first.predict("formula", parameters, {}, features)
            local.append(time.perf_counter() - start)
            # another process: its own first level, the same Redis (a new client-side copy)
            other = Cache(f"{REDIS}?client_side=true", key_prefix=prefix).start_in_thread()
            try:
                start = time.perf_counter()
                found = Predictor(shared=other).predict("formula", parameters, {}, features)
                remote.append(time.perf_counter() - start)
            finally:
                other.close_in_thread()
            assert found.value == expected.value
    finally:
        shared.close_in_thread()
        _drop_keys(prefix)
    print("\nsmax_resource prediction (median of 5 feature sets)")
    print(f"  computed                      {statistics.median(computed) * 1e3:9.2f} ms")
    print(f"  same process (first level)    {statistics.median(local) * 1e6:9.1f} us")
    print(f"  other process (from Redis)    {statistics.median(remote) * 1e3:9.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    in_process_part(args.evaluations)
    http_part(args.requests, args.evaluations)
    prediction_part()


if __name__ == "__main__":
    main()
