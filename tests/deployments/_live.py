"""Helpers for tests that watch the live loop: push samples, wait for what it records."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

WAIT_SECONDS = 60.0  # generous: the machine running the suite may be shared and busy


def wait_for(
    fetch: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = WAIT_SECONDS
) -> T:
    """Poll until ``done(fetch())``; fail naming what never happened (a wait, not a timing check)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} did not happen within {timeout:.0f} s; last value: {value!r}"
            )
        time.sleep(0.1)
        value = fetch()
    return value


def linear_model(api: Any, name: str, intercepts: list[float]) -> None:
    """A model whose versions predict constant S_max values (linear formulas, no coefficients)."""
    assert api.post("/models", json={"name": name}).status_code == 201
    for intercept in intercepts:
        response = api.post(
            f"/models/{name}/versions",
            json={
                "flavor": "formula",
                "parameters": {"kind": "linear", "coef": {}, "intercept": intercept},
            },
        )
        assert response.status_code == 201, response.text


def push_target(api: Any, name: str, interval: float = 0.2) -> dict[str, Any]:
    response = api.post(
        "/targets",
        json={
            "name": name,
            "kind": "push",
            "interval_seconds": interval,
            "config": {"configuration": {"value_size": 100}},
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


class Pusher:
    """Pushes one sample at a time with increasing timestamps."""

    def __init__(self, api: Any, target: str) -> None:
        self.api = api
        self.target = target
        self.t = time.time()

    def push(self, **metrics: float) -> None:
        self.t = max(self.t + 0.2, time.time())
        response = self.api.post(
            f"/targets/{self.target}/metrics", json={"samples": [{"t": self.t, "metrics": metrics}]}
        )
        assert response.status_code == 202, response.text


def deployment(api: Any, name: str) -> dict[str, Any]:
    response = api.get(f"/deployments/{name}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def intervals_seen(api: Any, name: str) -> int:
    return int(deployment(api, name)["state"].get("intervals", 0))
