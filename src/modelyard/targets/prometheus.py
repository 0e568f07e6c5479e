"""``prometheus``: any system that exposes Prometheus metrics, scraped every interval.

A mapping names, for each modelyard metric, the exposed sample (name and label values), how to
read it (``gauge`` as is, ``rate`` as the per-second increase of a counter) and a scale for
units. Samples matching several label sets are summed (e.g. one series per thread).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelyard.kit.outbound import refusal
from modelyard.targets.base import Interval, TargetDown, TargetError, judge_saturation
from modelyard.targets.schemas import PrometheusConfig

__all__ = ["PrometheusTarget", "read_samples"]


def read_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(sample name, labels, value) of every sample in a Prometheus text exposition."""
    out: list[tuple[str, dict[str, str], float]] = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out.append((sample.name, dict(sample.labels), float(sample.value)))
    except ValueError as exc:
        raise TargetDown(f"the scraped page is not the Prometheus text format: {exc}") from exc
    return out


class PrometheusTarget:
    kind = "prometheus"

    def __init__(self, config: PrometheusConfig, *, allowed_hosts: list[str] | None = None) -> None:
        self.config = config
        self.allowed_hosts = (
            allowed_hosts if allowed_hosts is not None else ["127.0.0.1", "localhost", "::1"]
        )
        self.client: httpx.Client | None = None
        self._previous: tuple[float, dict[str, float]] | None = None

    def start(self) -> None:
        self.stop()
        refused = refusal(self.config.url, self.allowed_hosts, "live.scrape_hosts")
        if refused is not None:
            raise TargetError(
                f"{refused}; an administrator can allow it (MODELYARD_LIVE__SCRAPE_HOSTS)"
            )
        self.client = httpx.Client(timeout=self.config.timeout_seconds, follow_redirects=False)
        self._previous = None
        self._scrape()  # fail fast: a target that cannot be scraped is down, with the reason

    def _scrape(self) -> tuple[float, dict[str, float], list[str]]:
        if self.client is None:
            raise TargetDown("the scraper is not started")
        try:
            response = self.client.get(self.config.url, headers={"Accept": "text/plain"})
        except httpx.HTTPError as exc:
            raise TargetDown(
                f"scraping {self.config.url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code != 200:
            raise TargetDown(f"scraping {self.config.url} returned HTTP {response.status_code}")
        now = time.time()
        samples = read_samples(response.text)
        values: dict[str, float] = {}
        missing: list[str] = []
        for name, spec in self.config.metrics.items():
            matched = [
                v
                for s, labels, v in samples
                if s == spec.metric
                and all(labels.get(k) == want for k, want in spec.labels.items())
            ]
            if matched:
                values[name] = sum(matched)
            else:
                missing.append(name)
        return now, values, missing

    def collect(self) -> list[Interval]:
        now, raw, missing = self._scrape()
        previous, self._previous = self._previous, (now, raw)
        metrics: dict[str, float] = {}
        seconds = now - previous[0] if previous is not None else 0.0
        for name, spec in self.config.metrics.items():
            if name not in raw:
                continue
            if spec.type == "gauge":
                metrics[name] = raw[name] * spec.scale
            elif previous is not None and name in previous[1] and seconds > 0:
                delta = raw[name] - previous[1][name]
                if delta >= 0:  # a counter that went down was reset: skip one interval
                    metrics[name] = delta / seconds * spec.scale
        if previous is None or not metrics:
            return []
        saturated, reasons = judge_saturation(metrics)
        evidence: dict[str, Any] = {"missing": missing, "seconds": seconds}
        return [
            Interval(
                ts_ms=int(now * 1000),
                seconds=seconds,
                metrics=metrics,
                configuration=dict(self.config.configuration),
                evidence=evidence,
                saturated=saturated,
                saturation_reasons=reasons,
            )
        ]

    def stop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()
