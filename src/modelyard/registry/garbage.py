"""Artifact garbage: blobs in the store that no model version names any more.

Deleting a version never deletes its blob (content addressing lets two versions share one),
and a failed commit after a promote can leave one unnamed; ``modelyard artifacts gc`` calls
:func:`collect_artifacts` to find them and, when asked, remove those older than a grace period.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.models import ModelVersion
from modelyard.registry.artifacts import ArtifactStore, Garbage

__all__ = ["Garbage", "collect_artifacts", "referenced_artifacts"]


def referenced_artifacts(session: Session) -> set[str]:
    """The hash of every blob some version names."""
    query = sa.select(ModelVersion.artifact_sha256).where(ModelVersion.artifact_sha256.is_not(None))
    return {sha for sha in session.scalars(query.distinct()) if sha}


def collect_artifacts(
    session: Session,
    store: ArtifactStore,
    *,
    grace_seconds: float,
    dry_run: bool = True,
    now: float | None = None,
) -> list[Garbage]:
    """Unreferenced blobs and stale temporary uploads older than ``grace_seconds``; removed
    unless ``dry_run``. The references are read first, so a version committed meanwhile can only
    name a blob newer than the grace period, which is kept."""
    return store.collect_garbage(
        referenced_artifacts(session), grace_seconds=grace_seconds, dry_run=dry_run, now=now
    )
