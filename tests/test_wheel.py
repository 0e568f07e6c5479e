"""A wheel built the standard way (``python -m build``: the sdist, then a wheel from it)
carries the web UI's and the API documentation's vendored assets, and a server run from that
wheel serves them.

The build runs without isolation (hatchling comes with the dev dependencies) so that it needs
no network; the wheel is unpacked beside the test, ahead of the source tree on ``sys.path``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from modelyard.kit import migrate
from tests.served import clean_environment

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src" / "modelyard" / "web" / "static" / "vendor"

pytestmark = pytest.mark.slow


def test_a_wheel_built_from_the_sdist_serves_the_vendored_assets(tmp_path: Path) -> None:
    if not (VENDOR / "htmx.min.js").is_file():
        pytest.fail("run scripts/fetch-assets.sh (make venv does) before building")
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("modelyard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("htmx.min.js", "swagger-ui-bundle.js", "redoc.standalone.js"):
        assert f"modelyard/web/static/vendor/{asset}" in names
    assert any(n.startswith("modelyard/_migrations/") for n in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'modelyard.db'}"
    home.mkdir()
    migrate.upgrade(url)
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, modelyard\n"
            "from fastapi.testclient import TestClient\n"
            "from modelyard.app import create_app\n"
            "with TestClient(create_app()) as client:\n"
            "    htmx = client.get('/static/vendor/htmx.min.js')\n"
            "    docs = client.get('/docs')\n"
            "print(json.dumps({'from': modelyard.__file__, 'htmx': [htmx.status_code, len(htmx.content)],"
            " 'docs': 'vendor/swagger-ui-bundle.js' in docs.text}))",
        ],
        env=clean_environment(
            PYTHONPATH=str(site), MODELYARD_HOME=str(home), MODELYARD_DATABASE_URL=url
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    result = json.loads(check.stdout.strip().splitlines()[-1])
    assert result["from"].startswith(str(site))
    assert result["htmx"] == [200, (VENDOR / "htmx.min.js").stat().st_size]
    assert result["docs"] is True
