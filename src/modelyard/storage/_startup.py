"""What a process does with its store as it starts: refuse settings that cannot work, and
carry on (with a warning) through a store that is only away for now."""

from __future__ import annotations

import logging

from modelyard.storage._base import BlobStore, StoreUnavailable

logger = logging.getLogger("modelyard.storage")


def check_at_start(store: BlobStore) -> str | None:
    """None when the store answers; the reason when it is away for now (requests that need it
    answer 503 meanwhile, and readiness says so). Raises :class:`StoreUnavailable` when the
    settings themselves are wrong (credentials refused, no such bucket)."""
    try:
        store.check()
    except StoreUnavailable as exc:
        if exc.misconfigured:
            raise
        logger.warning("%s; starting anyway, requests that need it answer 503", exc.detail)
        return exc.detail
    return None
