"""Write ``modelyard/client/_sync/`` from ``modelyard/client/_async/``: one source for both clients.

The asynchronous client is the code that is edited; the synchronous one is the same text with
``async``/``await`` taken out and the asyncio and httpx names swapped for their blocking
twins, then formatted by ruff. ``--check`` fails (exit 1) when the committed ``_sync`` differs
from what this would write; ``tests/client/test_unasync.py`` runs it.

    python scripts/unasync.py [--check]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "modelyard" / "client" / "_async"
TARGET = ROOT / "src" / "modelyard" / "client" / "_sync"

SUBSTITUTIONS = [
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bhandle_async_request\b", "handle_request"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_lines\b", "iter_lines"),
    (r"\baiter_bytes\b", "iter_bytes"),
    (r"\bimport asyncio\b", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\bmodelyard\.client\._async\b", "modelyard.client._sync"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
]
HEADER = "# Generated from ../_async/{name} by scripts/unasync.py: edit that file, then run it.\n"


def convert(text: str) -> str:
    for pattern, replacement in SUBSTITUTIONS:
        text = re.sub(pattern, replacement, text)
    return text


def generate(directory: Path) -> None:
    for source in sorted(SOURCE.glob("*.py")):
        text = convert(source.read_text())
        if source.name == "__init__.py":
            text = text.replace(
                "The asynchronous client; ``_sync`` is generated from this package by scripts/unasync.py.",
                "The synchronous client, generated from ``_async`` by scripts/unasync.py.",
            )
        (directory / source.name).write_text(HEADER.format(name=source.name) + text)
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run(
        [*ruff, "check", "--quiet", "--fix", "--select", "I,F401", str(directory)], check=True
    )
    subprocess.run([*ruff, "format", "--quiet", str(directory)], check=True)


def main() -> int:
    check = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory(dir=TARGET.parent) as scratch:
        generated = Path(scratch) / "_sync"
        generated.mkdir()
        generate(generated)
        files = {p.name: p.read_text() for p in generated.glob("*.py")}
    current = {p.name: p.read_text() for p in TARGET.glob("*.py")} if TARGET.exists() else {}
    if check:
        stale = sorted(
            name for name in files.keys() | current.keys() if files.get(name) != current.get(name)
        )
        if stale:
            print(
                f"client/_sync is out of date ({', '.join(stale)}); run scripts/unasync.py",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.mkdir(exist_ok=True)
    for name in current.keys() - files.keys():
        (TARGET / name).unlink()
    for name, text in files.items():
        (TARGET / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
