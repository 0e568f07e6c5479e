"""The two-level cache shared by the domains: cashews behind a small API.

What it holds are results that are expensive to compute and cheap to name: a leaderboard at a
generation of the evaluations it ranks, an S_max prediction for a version's parameters and an
interval's features. Values are bytes (JSON, serialised by the caller), so nothing is ever
unpickled from Redis.

Backends (``MODELYARD_CACHE__URL``, see :func:`cache_url`):

* embedded (no Redis): ``mem://``, one LRU per process;
* with ``MODELYARD_REDIS_URL``: Redis client-side caching, an in-process LRU in front of
  Redis that Redis invalidates by push (``CLIENT TRACKING ... BCAST``), so every process
  sees what one computed, and a ``delete`` or ``invalidate`` reaches the other processes'
  copies soon after (eventually, not in the same instant).

Correctness: **entries are keyed by a generation read from the database**, never trusted to
be invalidated. A caller reads a cheap fingerprint of the rows its result depends on (for a
leaderboard: how many succeeded evaluations the dataset has and the sum of their ids) and
puts it in the key; a write in any process (server, worker, CLI) changes the fingerprint, so
the next read misses and recomputes. With several server processes and no Redis, each
process's ``mem://`` cache can therefore never answer with a result older than the data the
request saw. Results that are pure functions of their inputs (predictions) are keyed by the
inputs themselves. ``ttl_seconds`` only bounds how long superseded entries take memory.
Tags (:meth:`Cache.invalidate`) are for callers that prefer to drop entries on their own
writes; on ``mem://`` they reach only the local process, so such entries must also have a
short TTL.

Sync code: many endpoints and the live loop are synchronous while cashews is async. An
async endpoint calls :meth:`Cache.get_or_compute`, which checks the cache on the event loop
and runs the computation in the thread pool on a miss; concurrent misses of one key in a
process share one computation (single flight). A thread that is not the cache's event loop
(the live loop) calls :meth:`Cache.get_blocking` / :meth:`Cache.set_blocking`, which hop
onto that loop. A cache belongs to whoever opened it (the app's lifespan: ``app.state.cache``;
a worker's :class:`~modelyard.jobs.runtime.JobRuntime`: ``ctx.cache`` in a job) and reaches
code as an argument, never through a module-level "current cache".

``MODELYARD_CACHE__ENABLED=false`` makes every lookup a miss and stores nothing.
"""

from modelyard.cache._cache import Cache, cache_url, open_cache

__all__ = ["Cache", "cache_url", "open_cache"]
