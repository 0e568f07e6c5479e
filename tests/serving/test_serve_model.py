"""``modelyard serve-model REF`` as a real process beside the session's ``modelyard serve``:
MLflow's ``/invocations`` bodies, the alias followed at the next request, the same roles,
and only the served model."""

from __future__ import annotations

import signal
import subprocess

import httpx

from tests.served import MODELYARD, LiveServer, clean_environment, free_port, wait_until_up

START_SECONDS = 300  # importing numpy and the flavors on a loaded 2-core machine


def test_serve_model_answers_invocations_and_follows_its_alias(
    live_server: LiveServer, unique: str
) -> None:
    editor = {"Authorization": f"Bearer {live_server.tokens['editor']}"}
    viewer = {"Authorization": f"Bearer {live_server.tokens['viewer']}"}
    api = httpx.Client(base_url=live_server.base + "/api", headers=editor, timeout=30)
    name = f"alone-{unique}"
    assert api.post("/models", json={"name": name}).status_code == 201
    for intercept in (1.0, 100.0):
        parameters = {"kind": "linear", "intercept": intercept, "coef": {"x": 2.0}}
        created = api.post(
            f"/models/{name}/versions", json={"flavor": "formula", "parameters": parameters}
        )
        assert created.status_code == 201, created.text
    assert api.put(f"/models/{name}/aliases/production", json={"version": 1}).status_code == 200

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(
        MODELYARD_HOME=str(live_server.home), MODELYARD_DATABASE_URL=live_server.served.url
    )
    log = live_server.home / f"serve-model-{unique}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [MODELYARD, "serve-model", f"{name}@production", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        wait_until_up(proc, base + "/ping", log, START_SECONDS)
        split = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0]]}}
        first = httpx.post(base + "/invocations", json=split, headers=viewer, timeout=30)
        assert first.status_code == 200, first.text
        assert first.json()["predictions"] == [3.0, 5.0] and first.json()["version"] == 1

        assert api.put(f"/models/{name}/aliases/production", json={"version": 2}).status_code == 200
        moved = httpx.post(base + "/invocations", json={"inputs": {"x": [1.0]}}, headers=viewer)
        assert moved.json()["predictions"] == [102.0] and moved.json()["version"] == 2

        pinned = httpx.post(
            f"{base}/api/models/{name}/1/predict", json=[{"x": 0.0}], headers=viewer
        )
        assert pinned.json()["predictions"] == [1.0]
        other = httpx.post(
            f"{base}/api/models/other-{unique}/predict", json=[{"x": 0.0}], headers=viewer
        )
        assert other.status_code == 404
        assert httpx.post(base + "/invocations", json=split).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
