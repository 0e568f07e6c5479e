"""The asynchronous client; ``_sync`` is generated from this package by scripts/unasync.py."""

from modelyard.client._async._client import AsyncClient

__all__ = ["AsyncClient"]
