"""Import a library as if some of its optional dependencies were not installed.

huey and cashews import the Redis client (about 14 MB resident) and huey the PostgreSQL
driver (about 5 MB) when they are imported, to find out whether those backends are
available. A server that queues and caches in-process never uses either. Their imports run
under :func:`hidden`, so that the library records the driver as missing; the module that
does so gives the library the driver back (its own small step) only when its settings name
that backend.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["hidden"]


@contextmanager
def hidden(*names: str) -> Iterator[None]:
    """``import name`` raises ImportError inside the block, for modules not imported yet.

    A module that is already imported stays visible (hiding it would gain nothing), and
    everything imports normally after the block. Meant for module-level imports, which run
    before any thread could import the hidden module for itself.
    """
    hiding = [name for name in names if name not in sys.modules]
    for name in hiding:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not found"
    try:
        yield
    finally:
        for name in hiding:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
