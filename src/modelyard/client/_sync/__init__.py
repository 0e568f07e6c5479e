# Generated from ../_async/__init__.py by scripts/unasync.py: edit that file, then run it.
"""The synchronous client, generated from ``_async`` by scripts/unasync.py."""

from modelyard.client._sync._client import Client

__all__ = ["Client"]
