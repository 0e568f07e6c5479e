"""Build the adapter for a stored target (kind + validated configuration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.targets.base import TargetAdapter, TargetError
from modelyard.targets.push import Fetch, PushTarget
from modelyard.targets.schemas import (
    CONFIG_MODELS,
    DbBenchTargetConfig,
    EmbeddedConfig,
    PrometheusConfig,
    PushConfig,
)

__all__ = ["build_adapter", "target_dir"]


def target_dir(home: Path, target_id: int) -> Path:
    """Where a target's files live (the embedded database, db_bench's directory)."""
    return home / "targets" / str(int(target_id))


def build_adapter(
    kind: str,
    config: dict[str, Any],
    *,
    target_id: int,
    home: Path,
    interval_seconds: float,
    fetch: Fetch,
    scrape_hosts: list[str] | None = None,
    since_ms: int | None = None,
) -> TargetAdapter:
    model = CONFIG_MODELS.get(kind)
    if model is None:
        raise TargetError(f"unknown target kind {kind!r}")
    parsed = model.model_validate(config)
    if isinstance(parsed, EmbeddedConfig):
        from modelyard.targets.embedded import EmbeddedRocksDbTarget

        return EmbeddedRocksDbTarget(
            parsed.workload, target_dir(home, target_id) / "db", interval_seconds=interval_seconds
        )
    if isinstance(parsed, DbBenchTargetConfig):
        from modelyard.targets.dbbench_live import DbBenchTarget

        return DbBenchTarget(parsed, target_dir(home, target_id), interval_seconds=interval_seconds)
    if isinstance(parsed, PrometheusConfig):
        from modelyard.targets.prometheus import PrometheusTarget

        return PrometheusTarget(parsed, allowed_hosts=scrape_hosts)
    assert isinstance(parsed, PushConfig)
    return PushTarget(
        fetch, parsed.configuration, interval_seconds=interval_seconds, since_ms=since_ms
    )
