"""The web tests' browser-like clients, for the header sweep."""

from tests.web.conftest import browser_for

__all__ = ["browser_for"]
