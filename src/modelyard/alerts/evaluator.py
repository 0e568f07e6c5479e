"""The alert evaluator: every ``alerts.interval_seconds`` it reads what the enabled rules
watch, opens an event when a rule's condition has held for the rule's ``for_seconds``,
resolves it when the condition stops holding, and sends due notifications.

``tick(now)`` is one evaluation at an explicit time (tests drive it with made-up clocks);
``start()`` runs ticks on a daemon thread, as the app's lifespan does. The time since a
condition began to hold is kept in memory per rule and subject, like Prometheus' ``for``:
a restart starts the count again. A rule edit restarts it too, since the condition changed.

Process rules run in every server process, each about itself. Host rules run in one process
per host and deployment rules in one process of the installation: the one holding the lease
``host:<name>`` or ``fleet`` (``_leases``), renewed every tick and left to lapse by a process
that stops or dies, when another takes it over. Without this, processes reading nearly the
same figure near a threshold would open and close the same event in turn.

An open event whose subject this process measures (or leads) but did not read this time (too
few requests for a p99, the deployment stopped, the rule was disabled) is resolved; so is one
of a process on this host that has exited. Events of other hosts' or other live processes'
subjects are theirs to close.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.alerts import _leases, service
from modelyard.alerts._metrics import EVALUATION_SECONDS
from modelyard.alerts._readings import ReadingKey, Readings
from modelyard.alerts.schemas import Metric, Scope
from modelyard.config import Settings
from modelyard.kit.db import Database
from modelyard.models import AlertEvent, AlertRule
from modelyard.webhooks.delivery import deliver_due

if TYPE_CHECKING:
    import httpx

__all__ = ["Evaluator", "TickResult"]

log = logging.getLogger("modelyard.alerts")

COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
UNITS = {
    Metric.cpu_percent: "%",
    Metric.memory_percent: "%",
    Metric.rss_mb: " MiB",
    Metric.disk_percent: "%",
    Metric.request_latency_p99_ms: " ms",
    Metric.job_queue_wait_seconds: " s",
    Metric.prediction_error_pct: "%",
}
FLEET_LEASE = "fleet"
LEASE_MIN_SECONDS = 30.0
"""A lease outlives three missed ticks and never less than this (a slow tick is not a death)."""


@dataclass
class TickResult:
    fired: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    delivered: int = 0
    failed: int = 0
    readings: dict[str, dict[str, float]] = field(default_factory=dict)
    leads: list[Scope] = field(default_factory=list)
    """The shared scopes this process evaluated this tick (``host``, ``deployment``)."""


def _reading_key(rule: AlertRule) -> ReadingKey:
    metric = Metric(rule.metric)
    window = rule.window_seconds if metric is Metric.request_latency_p99_ms else 0.0
    return (metric, Scope(rule.scope), window)


class Evaluator:
    def __init__(self, db: Database, settings: Settings, readings: Readings | None = None) -> None:
        self.db = db
        self.settings = settings
        self.readings = readings or Readings(
            settings.home,
            min_requests=settings.alerts.min_requests,
            exclude_routes=settings.alerts.latency_exclude_routes,
        )
        self.pending: dict[str, tuple[float, dt.datetime]] = {}
        """Open key -> (time the condition began to hold, the rule's ``updated_at`` then)."""
        self.only_rules: set[int] | None = None
        """When set, evaluate only these rules and leave the others' events alone."""
        self.owner = f"{self.readings.process_subject}/{uuid.uuid4().hex[:8]}"
        """This evaluator's name in the leases (two in one process are still two owners)."""
        self.lease_seconds = max(3 * settings.alerts.interval_seconds, LEASE_MIN_SECONDS)
        self.leases = {
            Scope.host: f"host:{self.readings.host}",
            Scope.deployment: FLEET_LEASE,
        }
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        # one client for the evaluator's life, made when the first delivery is due: building
        # one (its TLS context) costs tens of milliseconds, more than the rest of a tick, and
        # importing httpx ~7 MB that an idle server never needs
        if self._http is None:
            import httpx

            self._http = httpx.Client(
                timeout=self.settings.webhooks.timeout_seconds, follow_redirects=False
            )
        return self._http

    # -- one evaluation -----------------------------------------------------------------
    def tick(self, now: float | None = None, *, deliver: bool = True) -> TickResult:
        now = time.time() if now is None else now
        started = time.perf_counter()
        with self._lock:
            result = self._evaluate(now)
        if deliver:
            result.delivered, result.failed = deliver_due(
                self.db,
                self.settings.webhooks,
                now=dt.datetime.fromtimestamp(now, dt.UTC),
                client=self._client,
            )
        EVALUATION_SECONDS.set(time.perf_counter() - started)
        return result

    def _hold_leases(self, at: dt.datetime) -> set[Scope]:
        with self.db.session() as session:  # committed before evaluating: others must see it
            return {
                scope
                for scope, name in self.leases.items()
                if _leases.hold(session, name, self.owner, at, self.lease_seconds)
            }

    def release_leases(self) -> None:
        """Hand the host and fleet rules to another process now rather than at expiry."""
        with self.db.session() as session:
            for name in self.leases.values():
                _leases.release(session, name, self.owner)

    def _mine(self, rule: AlertRule | None, subject: str, leads: set[Scope]) -> bool:
        """Whether an unread ``subject`` of ``rule`` is this process's to resolve."""
        if rule is None:
            return False
        scope = Scope(rule.scope)
        if scope is Scope.process:
            return subject == self.readings.process_subject or self.readings.process_gone(subject)
        if scope is Scope.host:
            return Scope.host in leads and subject == self.readings.host
        return scope in leads

    def _evaluate(self, now: float) -> TickResult:
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        result = TickResult()
        leads = self._hold_leases(at)
        result.leads = sorted(leads)
        with self.db.session() as session:
            rules = session.scalars(
                sa.select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id)
            ).all()
            enabled = {r.id: r for r in rules}
            if self.only_rules is not None:
                rules = [r for r in rules if r.id in self.only_rules]
            rules = [r for r in rules if r.scope == Scope.process.value or Scope(r.scope) in leads]
            readings = self.readings.take({_reading_key(r) for r in rules}, now, session)
            result.readings = {
                f"{m.value}:{s.value}" + (f":{w:g}s" if w else ""): values
                for (m, s, w), values in readings.items()
            }
            open_keys = {
                key
                for key in session.scalars(
                    sa.select(AlertEvent.open_key).where(AlertEvent.open_key.like("rule:%"))
                )
                if key is not None
            }
            seen: set[str] = set()
            for rule in rules:
                for subject, value in readings.get(_reading_key(rule), {}).items():
                    key = service.rule_key(rule.id, subject)
                    seen.add(key)
                    if COMPARE[rule.comparison](value, rule.threshold):
                        since, version = self.pending.get(key, (now, rule.updated_at))
                        if version != rule.updated_at:
                            since = now
                        self.pending[key] = (since, rule.updated_at)
                        if key not in open_keys and now - since >= rule.for_seconds:
                            event_id = self._fire(session, rule, subject, value, since, at)
                            if event_id is not None:
                                result.fired.append(event_id)
                            open_keys.add(key)
                    else:
                        self.pending.pop(key, None)
                        if key in open_keys:
                            resolved = service.resolve_event(session, key, at=at)
                            if resolved is not None:
                                result.resolved.append(resolved)
            for key in open_keys - seen:
                _, rule_id, subject = key.split(":", 2)
                if self.only_rules is not None and int(rule_id) not in self.only_rules:
                    continue
                mine = self._mine(enabled.get(int(rule_id)), subject, leads)
                if mine or int(rule_id) not in enabled:
                    self.pending.pop(key, None)
                    resolved = service.resolve_event(session, key, at=at)
                    if resolved is not None:
                        result.resolved.append(resolved)
            for key in [k for k in self.pending if k not in seen]:
                del self.pending[key]
            service.refresh_open_gauge(session)
        return result

    def _fire(
        self,
        session: Session,
        rule: AlertRule,
        subject: str,
        value: float,
        since: float,
        at: dt.datetime,
    ) -> int | None:
        metric = Metric(rule.metric)
        unit = UNITS[metric]
        held = f" for {rule.for_seconds:g} s" if rule.for_seconds else ""
        window = (
            f" over {rule.window_seconds:g} s" if metric is Metric.request_latency_p99_ms else ""
        )
        message = (
            f"{rule.name}: {metric.value} of {rule.scope} {subject} is {value:.1f}{unit}{window}, "
            f"{rule.comparison} {rule.threshold:g}{unit}{held}."
        )
        return service.raise_event(
            session,
            source="system",
            kind=metric.value,
            open_key=service.rule_key(rule.id, subject),
            message=message,
            severity=rule.severity,
            subject=subject,
            detail={
                "rule": rule.name,
                "scope": rule.scope,
                "comparison": rule.comparison,
                "for_seconds": rule.for_seconds,
                "window_seconds": rule.window_seconds if window else None,
                "holding_since": dt.datetime.fromtimestamp(since, dt.UTC).isoformat(),
            },
            rule_id=rule.id,
            value=value,
            threshold=rule.threshold,
            at=at,
        )

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> Evaluator:
        self._thread = threading.Thread(target=self._run, name="modelyard-alerts", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("alert evaluation failed")
            self._stop.wait(self.settings.alerts.interval_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.release_leases()
        except Exception:  # the database may be gone at shutdown; the lease lapses anyway
            log.warning("alerts: could not release the evaluator's leases", exc_info=True)
        if self._http is not None:
            self._http.close()
