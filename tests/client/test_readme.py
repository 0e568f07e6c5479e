"""The README's client example, run as it is written, against a real ``modelyard serve``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.served import LiveServer, clean_environment

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_client_example_runs_verbatim(live_server: LiveServer, tmp_path: Path) -> None:
    found = re.search(
        r"<!-- client-example -->\n```python\n(.*?)```\n<!-- /client-example -->",
        README.read_text(),
        re.S,
    )
    assert found, "the README has lost its client example"
    env = clean_environment(
        MODELYARD_URL=live_server.base,
        MODELYARD_TOKEN=live_server.tokens["editor"],
        MODELYARD_CONFIG_HOME=str(tmp_path / "config"),
    )
    result = subprocess.run(
        [sys.executable, "-c", found.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("sales@production succeeded 0.0") for line in lines), lines
    assert "sales {'production': 1}" in lines
    assert any(line.startswith("404 Not found") for line in lines)
