"""The CLI's commands against a real ``modelyard serve``, each run as a subprocess.

What a user at a terminal gets: tables or ``--json``, exit codes (README, "Exit codes"), and
for every failure exactly one sentence on stderr: a bad token, a server that is down, a URL
that is not a modelyard server, a missing object, a role too low, a usage mistake. The
client configuration lives in a temporary directory (``MODELYARD_CONFIG_HOME``), never in the
real ``~/.config``.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.client.conftest import write_csv
from tests.served import MODELYARD, LiveServer, clean_environment, free_port

pytestmark = pytest.mark.slow


class Cli:
    def __init__(self, server: LiveServer, config_home: Path) -> None:
        self.server = server
        self.config_home = config_home

    def run(
        self, *args: str, role: str | None = "editor", cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        base = clean_environment(
            MODELYARD_CONFIG_HOME=str(self.config_home), XDG_CONFIG_HOME=str(self.config_home)
        )
        if role is not None:
            base |= {"MODELYARD_URL": self.server.base, "MODELYARD_TOKEN": self.server.tokens[role]}
        return subprocess.run(
            [MODELYARD, *args],
            env=base | env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture
def cli(live_server: LiveServer, tmp_path: Path) -> Cli:
    return Cli(live_server, tmp_path / "config")


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _one_sentence(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_register_upload_evaluate_compare(cli: Cli, tmp_path: Path) -> None:
    name = f"cli-{tmp_path.name[-8:]}".replace("_", "-")
    _ok(cli.run("models", "create", name, "--tag", "team=cli", "--description", "from the CLI"))
    for slope in ("2.0", "1.5"):
        parameters = json.dumps({"kind": "linear", "coef": {"x": float(slope)}, "intercept": 1.0})
        _ok(cli.run("versions", "create", name, "--flavor", "formula", "--parameters", parameters))
    artifact = tmp_path / "notes.bin"
    artifact.write_bytes(b"\x00\x01" * 50_000)
    created = json.loads(
        _ok(cli.run("versions", "create", name, "--artifact", str(artifact), "--json"))
    )
    assert created["version"] == 3 and created["artifact"]["size"] == 100_000
    _ok(cli.run("versions", "download", f"{name}/3", str(tmp_path / "back.bin")))
    assert (tmp_path / "back.bin").read_bytes() == artifact.read_bytes()
    assert "-> version 1" in _ok(cli.run("aliases", "set", name, "production", "1"))

    data = write_csv(tmp_path / "sales.csv", 1_000)
    uploaded = json.loads(_ok(cli.run("datasets", "upload", str(data), "--name", name, "--json")))
    assert uploaded["row_count"] == 1_000

    ids = []
    for reference in (f"{name}@production", f"{name}/2"):
        result = cli.run(
            "evaluations", "create", reference, name, "--target", "y", "--wait", "--json"
        )
        evaluation = json.loads(_ok(result))
        assert evaluation["status"] == "succeeded"
        ids.append(str(evaluation["id"]))
    table = _ok(cli.run("evaluations", "compare", *ids))
    assert "mae" in table and "*" in table
    listed = json.loads(_ok(cli.run("models", "list", "--q", name, "--json")))
    assert [m["name"] for m in listed] == [name]
    assert listed[0]["aliases"] == {"production": 1}
    trend = _ok(cli.run("models", "metrics", name, "mae"))
    assert name in trend


def test_every_failure_is_one_sentence_and_an_exit_code(cli: Cli, tmp_path: Path) -> None:
    bad_token = cli.run("models", "list", MODELYARD_TOKEN="my_not-a-token")
    assert "token" in _one_sentence(bad_token, 4)

    down = cli.run("models", "list", MODELYARD_URL=f"http://127.0.0.1:{free_port()}")
    assert "Cannot reach the modelyard server" in _one_sentence(down, 6)

    with _not_modelyard() as url:
        wrong = cli.run("models", "list", "--url", url)
    assert "is the URL that of a modelyard server?" in _one_sentence(wrong, 6)

    missing = cli.run("models", "show", "no-such-model")
    assert "no-such-model" in _one_sentence(missing, 5)

    viewer = cli.run("models", "create", "not-allowed", role="viewer")
    _one_sentence(viewer, 4)

    usage = cli.run("models", "create", "x", "--tag", "no-equals-sign")
    assert "KEY=VALUE" in _one_sentence(usage, 2)

    bad_url = cli.run("models", "list", "--url", "127.0.0.1:8000")
    assert "http://" in _one_sentence(bad_url, 2)


def test_jobs_follow_ends_with_the_job(cli: Cli) -> None:
    def submit(params: dict[str, object]) -> int:
        import httpx

        response = httpx.post(
            cli.server.base + "/api/jobs",
            json={"kind": "sleep", "params": params},
            headers={"Authorization": f"Bearer {cli.server.tokens['admin']}"},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    done = submit({"seconds": 0.3, "steps": 3})
    result = cli.run("jobs", "show", str(done), "--follow", role="admin")
    assert result.returncode == 0 and "succeeded" in result.stdout, result.stderr

    failing = submit({"seconds": 0.1, "steps": 1, "fail_times": 5})
    result = cli.run("jobs", "show", str(failing), "--follow", "--json", role="admin")
    assert result.returncode == 1 and json.loads(result.stdout)["status"] == "failed"

    waiting = submit({"seconds": 600, "steps": 6000})
    assert cli.run("jobs", "cancel", str(waiting), role="admin").returncode == 0
    result = cli.run("jobs", "show", str(waiting), "--follow", role="admin")
    assert result.returncode == 3, result.stderr
    listed = json.loads(_ok(cli.run("jobs", "list", "--kind", "sleep", "--json", role="admin")))
    assert {done, failing, waiting} <= {job["id"] for job in listed}


def test_commands_on_a_database_say_when_there_is_none(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (
        ("user", "list"),
        ("token", "create", "alice"),
        ("artifacts", "gc"),
        ("db", "status"),
        ("smax", "predict", "--db-bench-args", "--value_size=400 --num=1000"),
    ):
        result = cli.run(*args, role=None, cwd=empty)
        assert "modelyard db upgrade" in _one_sentence(result, 6), args
    unreachable = cli.run(
        "user",
        "list",
        role=None,
        cwd=empty,
        MODELYARD_DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
    )
    assert "Cannot reach the database" in _one_sentence(unreachable, 6)
    assert list(empty.iterdir()) == []  # nothing was created


def test_profiles_name_a_server(cli: Cli) -> None:
    server = cli.server
    _ok(
        cli.run(
            "profile",
            "set",
            "here",
            "--url",
            server.base,
            "--token",
            server.tokens["viewer"],
            role=None,
        )
    )
    listed = _ok(cli.run("profile", "list", role=None))
    assert "* here" in listed and server.tokens["viewer"] not in listed
    who = _ok(cli.run("profile", "whoami", role=None))
    assert "live-viewer (viewer)" in who and "profile 'here'" in who
    assert (cli.config_home / "config.toml").stat().st_mode & 0o077 == 0
    missing = cli.run("models", "list", "--profile", "elsewhere", role=None)
    assert "No profile 'elsewhere'" in _one_sentence(missing, 2)


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Not here</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _not_modelyard() -> Iterator[str]:
    """Some other web server: every path is an HTML 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
