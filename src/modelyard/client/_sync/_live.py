# Generated from ../_async/_live.py by scripts/unasync.py: edit that file, then run it.
"""Live monitoring: targets (with pushed metrics), deployments, alerts, analytics."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import TypeAdapter

from modelyard.alerts.schemas import (
    AlertDeliveryOut,
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    EventOut,
    RuleCreate,
    RuleOut,
    RuleUpdate,
    TickOut,
)
from modelyard.analytics.schemas import Leaderboard
from modelyard.client._refs import segment
from modelyard.client._sse import ServerEvent
from modelyard.client._sync._http import Http
from modelyard.deployments.schemas import (
    AlertOut,
    DeploymentCreate,
    DeploymentOut,
    DeploymentSettings,
    SaveTuned,
    SwitchOut,
    TuningRecordOut,
)
from modelyard.registry.schemas import VersionOut
from modelyard.targets.schemas import PushAccepted, PushBatch, PushSample, TargetCreate, TargetOut

PUSH_BATCH = 5_000
Sample = PushSample | Mapping[str, Any]
_TARGET_CREATE: TypeAdapter[Any] = TypeAdapter(TargetCreate)


class Targets:
    """``client.targets``: live systems to follow; ``push`` sends metrics to a push target."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self, *, kind: str | None = None) -> builtins.list[TargetOut]:
        page = self._http.call_json("GET", "/api/targets", params={"kind": kind})
        return [TargetOut.model_validate(item) for item in page["items"]]

    def create(
        self,
        name: str,
        kind: Literal["rocksdb-embedded", "db_bench", "prometheus", "push"],
        *,
        config: Mapping[str, Any] | None = None,
        interval_seconds: float = 1.0,
        start: bool = True,
    ) -> TargetOut:
        raw = {"name": name, "kind": kind, "interval_seconds": interval_seconds, "start": start}
        if config is not None:
            raw["config"] = dict(config)
        body = _TARGET_CREATE.validate_python(raw)
        return self._http.call(TargetOut, "POST", "/api/targets", json=body.model_dump(mode="json"))

    def get(self, target: int | str) -> TargetOut:
        return self._http.call(TargetOut, "GET", f"/api/targets/{segment(target)}")

    def start(self, target: int | str) -> TargetOut:
        return self._http.call(TargetOut, "POST", f"/api/targets/{segment(target)}/start")

    def stop(self, target: int | str) -> TargetOut:
        return self._http.call(TargetOut, "POST", f"/api/targets/{segment(target)}/stop")

    def delete(self, target: int | str) -> None:
        self._http.request("DELETE", f"/api/targets/{segment(target)}")

    def metrics(
        self,
        target: int | str,
        *,
        names: Sequence[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        step: str | None = None,
    ) -> dict[str, Any]:
        """Measured series over a time range (``start``/``end``: ISO times, Unix ms, ``-15m``,
        ``now``; ``step``: ``raw``, ``10s``, ``1m``...)."""
        params = {"name": builtins.list(names) if names else None, "from": start, "to": end}
        params["step"] = step
        result: dict[str, Any] = self._http.call_json(
            "GET", f"/api/targets/{segment(target)}/metrics", params=params
        )
        return result

    def push(
        self, target: int | str, samples: Iterable[Sample], *, batch_size: int = PUSH_BATCH
    ) -> PushAccepted:
        """Send samples (``{"t": unix_seconds, "metrics": {"ops_per_sec": 5000.0}}``) in batches
        of ``batch_size``; returns the totals of what the server accepted."""
        total = PushAccepted(accepted_points=0, samples=0, skipped_samples=0)
        batch: builtins.list[PushSample] = []

        def send() -> None:
            accepted = self._http.call(
                PushAccepted,
                "POST",
                f"/api/targets/{segment(target)}/metrics",
                json=PushBatch(samples=batch).model_dump(mode="json"),
            )
            total.accepted_points += accepted.accepted_points
            total.samples += accepted.samples
            total.skipped_samples += accepted.skipped_samples
            batch.clear()

        for sample in samples:
            batch.append(
                sample if isinstance(sample, PushSample) else PushSample.model_validate(sample)
            )
            if len(batch) >= batch_size:
                send()
        if batch:
            send()
        return total


class Deployments:
    """``client.deployments``: run a model against a live target and read what it predicted."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(
        self, *, target: str | None = None, status: Literal["active", "stopped"] | None = None
    ) -> builtins.list[DeploymentOut]:
        page = self._http.call_json(
            "GET", "/api/deployments", params={"target": target, "status": status}
        )
        return [DeploymentOut.model_validate(item) for item in page["items"]]

    def create(
        self,
        name: str,
        target: int | str,
        model: str,
        *,
        candidates: Sequence[str] = (),
        auto_tune: bool = False,
        settings: Mapping[str, Any] | None = None,
    ) -> DeploymentOut:
        """Deploy ``model`` (``name@alias`` follows the alias, ``name/3`` pins a version)."""
        body = DeploymentCreate(
            name=name,
            target=str(target),
            model=model,
            candidates=builtins.list(candidates),
            auto_tune=auto_tune,
            settings=DeploymentSettings.model_validate(dict(settings or {})),
        )
        return self._http.call(
            DeploymentOut, "POST", "/api/deployments", json=body.model_dump(mode="json")
        )

    def get(self, deployment: int | str) -> DeploymentOut:
        return self._http.call(DeploymentOut, "GET", f"/api/deployments/{segment(deployment)}")

    def stop(self, deployment: int | str) -> DeploymentOut:
        return self._http.call(
            DeploymentOut, "POST", f"/api/deployments/{segment(deployment)}/stop"
        )

    def delete(self, deployment: int | str) -> None:
        self._http.request("DELETE", f"/api/deployments/{segment(deployment)}")

    def metrics(
        self,
        deployment: int | str,
        *,
        names: Sequence[str] | None = None,
        target_metrics: bool = True,
        start: str | None = None,
        end: str | None = None,
        step: str | None = None,
    ) -> dict[str, Any]:
        """Predicted against actual, headroom and the target's series over a time range."""
        params: dict[str, Any] = {"name": builtins.list(names) if names else None}
        params.update({"target_metrics": target_metrics, "from": start, "to": end, "step": step})
        result: dict[str, Any] = self._http.call_json(
            "GET", f"/api/deployments/{segment(deployment)}/metrics", params=params
        )
        return result

    def events(
        self,
        deployment: int | str,
        *,
        limit: int | None = None,
        timeout: float | None = None,
        last_event_id: str | None = None,
    ) -> Iterator[ServerEvent]:
        """Each interval's prediction, actual and headroom as it happens (``event.json()``)."""
        return self._http.events(
            f"/api/deployments/{segment(deployment)}/events",
            {"limit": limit, "timeout": timeout},
            last_event_id=last_event_id,
        )

    def alerts(self, deployment: int | str, *, open_only: bool = False) -> builtins.list[AlertOut]:
        return self._http.call_list(
            AlertOut,
            "GET",
            f"/api/deployments/{segment(deployment)}/alerts",
            params={"open": open_only},
        )

    def switches(self, deployment: int | str) -> builtins.list[SwitchOut]:
        return self._http.call_list(
            SwitchOut, "GET", f"/api/deployments/{segment(deployment)}/switches"
        )

    def tuning(self, deployment: int | str, *, limit: int = 1000) -> builtins.list[TuningRecordOut]:
        return self._http.call_list(
            TuningRecordOut,
            "GET",
            f"/api/deployments/{segment(deployment)}/tuning",
            params={"limit": limit},
        )

    def save_tuned(
        self, deployment: int | str, *, description: str = "", alias: str | None = None
    ) -> VersionOut:
        """Register the tuned parameters as a new version (and point ``alias`` at it)."""
        body = SaveTuned(description=description, alias=alias)
        return self._http.call(
            VersionOut,
            "POST",
            f"/api/deployments/{segment(deployment)}/tuned-version",
            json=body.model_dump(exclude_none=True),
        )

    def make_report(self, deployment: int | str) -> dict[str, Any]:
        result: dict[str, Any] = self._http.call_json(
            "POST", f"/api/deployments/{segment(deployment)}/report"
        )
        return result

    def download_report(
        self,
        deployment: int | str,
        kind: Literal["json", "html", "png"],
        destination: Path | str | IO[bytes],
    ) -> int:
        target = Path(destination) if isinstance(destination, str | Path) else destination
        return self._http.download(f"/api/deployments/{segment(deployment)}/report/{kind}", target)


class Alerts:
    """``client.alerts``: events of every source; rules and channels (admins)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(
        self,
        *,
        state: Literal["open", "resolved"] | None = None,
        source: Literal["system", "deployment", "drift"] | None = None,
        severity: Literal["info", "warning", "critical"] | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[EventOut]:
        params = {"state": state, "source": source, "severity": severity}
        return self._http.paginate(
            EventOut, "/api/alerts", params, page_size=page_size, limit=limit
        )

    def get(self, event_id: int) -> EventOut:
        return self._http.call(EventOut, "GET", f"/api/alerts/{int(event_id)}")

    def ack(self, event_id: int) -> EventOut:
        return self._http.call(EventOut, "POST", f"/api/alerts/{int(event_id)}/ack")

    def deliveries(self, event_id: int) -> builtins.list[AlertDeliveryOut]:
        return self._http.call_list(
            AlertDeliveryOut, "GET", f"/api/alerts/{int(event_id)}/deliveries"
        )

    def evaluate(self) -> TickOut:
        """Evaluate every rule now (admins); what fired and resolved."""
        return self._http.call(TickOut, "POST", "/api/alerts/evaluate")

    def rules(self) -> builtins.list[RuleOut]:
        return self._http.call_list(RuleOut, "GET", "/api/alerts/rules")

    def create_rule(self, **fields: Any) -> RuleOut:
        """``create_rule(name="cpu", metric="cpu_percent", threshold=90, for_seconds=300)``."""
        body = RuleCreate.model_validate(fields)
        return self._http.call(
            RuleOut, "POST", "/api/alerts/rules", json=body.model_dump(mode="json")
        )

    def update_rule(self, rule_id: int, **fields: Any) -> RuleOut:
        body = RuleUpdate.model_validate(fields)
        return self._http.call(
            RuleOut,
            "PATCH",
            f"/api/alerts/rules/{int(rule_id)}",
            json=body.model_dump(mode="json", exclude_unset=True),
        )

    def delete_rule(self, rule_id: int) -> None:
        self._http.request("DELETE", f"/api/alerts/rules/{int(rule_id)}")

    def channels(self) -> builtins.list[ChannelOut]:
        return self._http.call_list(ChannelOut, "GET", "/api/alerts/channels")

    def create_channel(self, **fields: Any) -> ChannelOut:
        """``create_channel(name="ops", url="https://hooks.example.com/x", kind="slack")``."""
        body = ChannelCreate.model_validate(fields)
        return self._http.call(
            ChannelOut, "POST", "/api/alerts/channels", json=body.model_dump(mode="json")
        )

    def update_channel(self, channel_id: int, **fields: Any) -> ChannelOut:
        body = ChannelUpdate.model_validate(fields)
        return self._http.call(
            ChannelOut,
            "PATCH",
            f"/api/alerts/channels/{int(channel_id)}",
            json=body.model_dump(mode="json", exclude_unset=True),
        )

    def delete_channel(self, channel_id: int) -> None:
        self._http.request("DELETE", f"/api/alerts/channels/{int(channel_id)}")


class Analytics:
    """``client.analytics``: leaderboards of versions on a dataset."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def leaderboard(
        self, dataset: int | str, metric: str = "mape", *, limit: int | None = None
    ) -> Leaderboard:
        return self._http.call(
            Leaderboard,
            "GET",
            "/api/analytics/leaderboard",
            params={"dataset": dataset, "metric": metric, "limit": limit},
        )
