"""Warm a ``modelyard worker`` process's evaluation imports in the background.

numpy, pyarrow, scikit-learn and skops take 10-40 s to import cold, and the first evaluation
a worker runs used to pay that while the user watched its progress bar sit at "loading". A
separate worker process calls :func:`start` when it starts taking jobs; the server never
does, so its idle memory stays free of those libraries (its in-process workers import them
with their first evaluation, as before).

The evaluation job calls :func:`wait` before its own imports: it blocks only while a warm-up
is in flight (the job would wait for the same imports anyway) and keeps two threads from
importing one package at once, which CPython's import locks can turn into an ImportError on
packages whose modules import each other.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

__all__ = ["WARM_MODULES", "start", "wait", "warm_imports"]

logger = logging.getLogger(__name__)

WARM_MODULES = (
    "modelyard.evaluations.runner",  # numpy, pyarrow, pyarrow.parquet and compute
    "modelyard.flavors._sklearn",
    "skops.io",  # imports most of scikit-learn's estimators
    "sklearn.base",
    "onnxruntime",
)

_lock = threading.Lock()
_running: threading.Event | None = None


def warm_imports(modules: tuple[str, ...] = WARM_MODULES) -> dict[str, float]:
    """Import each module; seconds per module. A flavor that is not installed is skipped."""
    seconds: dict[str, float] = {}
    for name in modules:
        started = time.perf_counter()
        try:
            importlib.import_module(name)
        except ImportError as exc:
            logger.info("warm-up: %s is not importable (%s); skipped", name, exc)
            continue
        seconds[name] = time.perf_counter() - started
    return seconds


def start(modules: tuple[str, ...] = WARM_MODULES) -> threading.Thread | None:
    """Import ``modules`` in a daemon thread; ``None`` if a warm-up already ran or runs."""
    global _running
    with _lock:
        if _running is not None:
            return None
        done = _running = threading.Event()

    def run() -> None:
        started = time.perf_counter()
        try:
            seconds = warm_imports(modules)
        except Exception:  # a broken optional package must not take the worker down
            logger.exception("warm-up of the evaluation imports failed")
        else:
            logger.info(
                "warm-up: evaluation imports ready in %.1f s (%s)",
                time.perf_counter() - started,
                ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items()),
            )
        finally:
            done.set()

    thread = threading.Thread(target=run, name="warm-imports", daemon=True)
    thread.start()
    return thread


def wait(timeout: float | None = None) -> bool:
    """Block until a started warm-up has finished; ``True`` at once when none was started."""
    with _lock:
        running = _running
    return True if running is None else running.wait(timeout)
