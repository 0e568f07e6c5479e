"""The live loop: follows running targets and evaluates their deployments every interval.

One :class:`LiveSupervisor` thread per process (started by the app's lifespan, by
``modelyard live run``, or by ``modelyard live experiment``) leases the targets it follows:
a target whose ``desired_state`` is ``running`` is claimed by the first supervisor whose
lease on it is free or expired, and renewed every second, so several server processes never
follow the same target twice and a crashed process's targets are picked up by another after
``lease_seconds``.

For each target it owns, every ``interval_seconds`` it calls the adapter's ``collect``,
writes the metrics to the store, and evaluates each active deployment on that target
(:class:`~modelyard.deployments._engine.DeploymentEngine`). A target that raises
:class:`~modelyard.targets.base.TargetDown` is marked ``down`` with the reason, its
deployments get a ``target_down`` alert, and the adapter is restarted with an exponential
back-off (1 s up to 30 s); when it answers again it is marked ``up``, the alerts are resolved
and the deployments carry on. It also rolls the metric store up every 15 s and applies
retention every 10 minutes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from modelyard.deployments._alerts import raise_alert, resolve_alerts
from modelyard.deployments._engine import DeploymentEngine, IntervalResult
from modelyard.deployments._predict import Predictor
from modelyard.kit.db import Database
from modelyard.models import Deployment, Target
from modelyard.monitoring.store import MetricStore
from modelyard.targets import service as target_service
from modelyard.targets.base import (
    Interval,
    TargetAdapter,
    TargetDown,
    TargetError,
    TargetFinished,
)
from modelyard.targets.factory import build_adapter

if TYPE_CHECKING:
    from modelyard.cache import Cache

__all__ = ["LiveRuntime", "LiveSupervisor", "start_live", "stop_live"]

log = logging.getLogger("modelyard.live")

MAX_BACKOFF = 30.0
_PROCESS_KINDS = {"rocksdb-embedded", "db_bench"}


@dataclass
class _Runner:
    target_id: int
    name: str
    kind: str
    config: dict[str, Any]
    interval: float
    adapter: TargetAdapter | None = None
    started: bool = False
    next_at: float = 0.0
    backoff: float = 1.0
    engines: dict[int, DeploymentEngine] = field(default_factory=dict)
    intervals: int = 0
    created_ms: int = 0


class LiveSupervisor:
    def __init__(
        self,
        db: Database,
        store: MetricStore,
        home: Path,
        *,
        owner: str | None = None,
        lease_seconds: float = 10.0,
        tick_seconds: float = 0.1,
        rollup_every: float = 15.0,
        retention_every: float = 600.0,
        scrape_hosts: list[str] | None = None,
        max_process_targets: int = 2,
        cache: Cache | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.home = home
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.tick_seconds = tick_seconds
        self.rollup_every = rollup_every
        self.retention_every = retention_every
        self.predictor = Predictor(shared=cache)
        self.scrape_hosts = scrape_hosts
        self.max_process_targets = max_process_targets
        self.runners: dict[int, _Runner] = {}
        self.listeners: list[Any] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_reconcile = 0.0
        self._next_rollup = time.monotonic() + rollup_every
        self._next_retention = time.monotonic() + 60.0
        self.only_targets: set[int] | None = None
        """When set, follow only these targets (the experiment command's own)."""

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LiveSupervisor:
        self._thread = threading.Thread(target=self._run, name="modelyard-live", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """Look for new targets and deployments at the next tick (after a create)."""
        self._next_reconcile = 0.0

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for runner in list(self.runners.values()):
            self._stop_runner(runner, release=True)
        self.runners.clear()

    def _run(self) -> None:
        last_problem = ""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep following the other targets
                problem = f"{type(exc).__name__}: {exc}"
                if problem != last_problem:  # once per distinct problem, not every tick
                    log.exception("live loop iteration failed")
                last_problem = problem
            self._stop.wait(self.tick_seconds)

    def run_once(self) -> None:
        now = time.monotonic()
        if now >= self._next_reconcile:
            self.reconcile()
            self._next_reconcile = now + 1.0
        for runner in list(self.runners.values()):
            if now >= runner.next_at:
                self._step(runner)
        if now >= self._next_rollup:
            self.store.rollup()
            self._next_rollup = now + self.rollup_every
        if now >= self._next_retention:
            self.store.apply_retention()
            self._next_retention = now + self.retention_every

    # -- leases ---------------------------------------------------------------------------
    def reconcile(self) -> None:
        with self.db.session() as session:
            # with nothing of its own to renew and nothing to take, this writes nothing
            owned = target_service.hold_leases(
                session,
                self.owner,
                self.lease_seconds,
                only=self.only_targets,
                renew=bool(self.runners),
            )
            owned_ids = {t.id for t in owned}
            for target in owned:
                runner = self.runners.get(target.id)
                if runner is None:
                    runner = _Runner(
                        target.id,
                        target.name,
                        target.kind,
                        dict(target.config),
                        target.interval_seconds,
                        created_ms=int(target.created_at.timestamp() * 1000),
                    )
                    self.runners[target.id] = runner
                self._sync_deployments(session, runner)
            for target_id in [t for t in self.runners if t not in owned_ids]:
                runner = self.runners.pop(target_id)
                self._stop_runner(runner, release=False)
                stopped = session.get(Target, target_id)
                if stopped is not None and stopped.desired_state == "stopped":
                    target_service.set_status(session, target_id, "stopped", "stopped on request")

    def _sync_deployments(self, session: Any, runner: _Runner) -> None:
        rows = list(
            session.scalars(
                sa.select(Deployment).where(
                    Deployment.target_id == runner.target_id, Deployment.status == "active"
                )
            )
        )
        active = {row.id for row in rows}
        for row in rows:
            if row.id not in runner.engines:
                engine = DeploymentEngine(row, self.predictor)
                runner.engines[row.id] = engine
                # visible to clients: from here on every interval of the target is evaluated
                row.state = {**row.state, "following_since": engine.following_since}
        for deployment_id in [d for d in runner.engines if d not in active]:
            del runner.engines[deployment_id]

    def _stop_runner(self, runner: _Runner, *, release: bool) -> None:
        if runner.adapter is not None:
            try:
                runner.adapter.stop()
            except Exception:
                log.exception("stopping target %s failed", runner.name)
        runner.adapter, runner.started = None, False
        if release:
            try:
                with self.db.session() as session:
                    target_service.release_lease(session, runner.target_id, self.owner)
            except Exception:
                log.exception("releasing the lease on %s failed", runner.name)

    # -- one step of one target -----------------------------------------------------------
    def _fetch_pushed(self, target_id: int) -> Any:
        owner = target_service.target_owner(target_id)

        def fetch(after_ms: int, to_ms: int) -> list[tuple[int, dict[str, float]]]:
            return self.store.samples_between(owner, after_ms, to_ms)

        return fetch

    def _step(self, runner: _Runner) -> None:
        now = time.monotonic()
        runner.next_at = now + runner.interval
        try:
            adapter = runner.adapter
            if not runner.started or adapter is None:
                if runner.kind in _PROCESS_KINDS:
                    running = sum(
                        1 for r in self.runners.values() if r.started and r.kind in _PROCESS_KINDS
                    )
                    if running >= self.max_process_targets:
                        self._down(
                            runner,
                            f"{running} embedded RocksDB and db_bench targets already run in this "
                            f"process (live.max_process_targets is {self.max_process_targets})",
                        )
                        return
                if adapter is None:
                    adapter = runner.adapter = build_adapter(
                        runner.kind,
                        runner.config,
                        target_id=runner.target_id,
                        home=self.home,
                        interval_seconds=runner.interval,
                        fetch=self._fetch_pushed(runner.target_id),
                        scrape_hosts=self.scrape_hosts,
                        # pushed just after creation, before this loop picked the target up;
                        # after a restart, at most the last 10 s are read again
                        since_ms=max(runner.created_ms, int(time.time() * 1000) - 10_000),
                    )
                adapter.start()
                runner.started = True
                runner.backoff = 1.0
            intervals = adapter.collect()
        except TargetFinished as exc:
            self._finished(runner, str(exc))
            return
        except TargetDown as exc:
            self._down(runner, str(exc))
            return
        except TargetError as exc:
            self._down(runner, f"configuration problem: {exc}", retry=False)
            return
        except Exception as exc:
            log.exception("target %s failed", runner.name)
            self._down(runner, f"unexpected error: {type(exc).__name__}: {exc}")
            return
        if intervals:
            self._deliver(runner, intervals)

    def _deliver(self, runner: _Runner, intervals: list[Interval]) -> None:
        owner = target_service.target_owner(runner.target_id)
        if runner.kind != "push":  # pushed points are already in the store
            self.store.write(owner, [(iv.ts_ms, iv.metrics) for iv in intervals])
        with self.db.session() as session:
            changed = target_service.set_status(session, runner.target_id, "up", "", sampled=True)
            if changed:
                for deployment_id in runner.engines:
                    resolve_alerts(session, deployment_id, "target_down")
        for interval in intervals:
            runner.intervals += 1
            for engine in list(runner.engines.values()):
                try:
                    with self.db.session() as session:
                        evaluation = engine.evaluate(session, self.store, interval)
                except Exception:
                    log.exception("deployment %s failed on an interval", engine.name)
                    continue
                self._publish(engine.id, evaluation, interval)

    def _publish(self, deployment_id: int, evaluation: IntervalResult, interval: Interval) -> None:
        for listener in list(self.listeners):
            try:
                listener(deployment_id, evaluation, interval)
            except Exception:
                log.exception("a live listener failed")

    def _down(self, runner: _Runner, reason: str, *, retry: bool = True) -> None:
        if runner.kind == "push" and retry:
            # nothing to restart: keep reading from where the adapter got to, so samples
            # pushed while the target was silent-and-down are not skipped
            runner.next_at = time.monotonic() + runner.interval
        else:
            if runner.adapter is not None:
                try:
                    runner.adapter.stop()
                except Exception:
                    log.exception("stopping target %s failed", runner.name)
            runner.started = False
            runner.adapter = None
            runner.next_at = time.monotonic() + (runner.backoff if retry else 3600.0)
            runner.backoff = min(MAX_BACKOFF, runner.backoff * 2)
        with self.db.session() as session:
            if target_service.set_status(session, runner.target_id, "down", reason):
                log.warning("target %s is down: %s", runner.name, reason)
                for deployment_id in runner.engines:
                    raise_alert(
                        session,
                        deployment_id,
                        "target_down",
                        f"Target '{runner.name}' is down: {reason}",
                        {"reason": reason},
                    )

    def _finished(self, runner: _Runner, reason: str) -> None:
        self._stop_runner(runner, release=True)
        self.runners.pop(runner.target_id, None)
        with self.db.session() as session:
            target_service.finish(session, runner.target_id, reason)


@dataclass
class LiveRuntime:
    """What the app's lifespan holds: the metric store and, when enabled, the live loop."""

    store: MetricStore
    supervisor: LiveSupervisor | None


def start_live(settings: Any, db: Database, cache: Cache | None = None) -> LiveRuntime:
    """Create the store and start the live loop (``settings.live.enabled``); ``cache`` is the
    process's, where S_max predictions are shared with other processes."""
    live = settings.live
    store = MetricStore(
        db.engine,
        raw_retention_ms=int(live.raw_retention_hours * 3_600_000),
        rollup_retention_ms=int(live.rollup_retention_days * 86_400_000),
    )
    supervisor = None
    if live.enabled:
        supervisor = LiveSupervisor(
            db,
            store,
            settings.home,
            lease_seconds=live.lease_seconds,
            scrape_hosts=list(live.scrape_hosts),
            max_process_targets=live.max_process_targets,
            cache=cache,
        ).start()
    return LiveRuntime(store, supervisor)


def stop_live(runtime: LiveRuntime) -> None:
    if runtime.supervisor is not None:
        runtime.supervisor.stop()
