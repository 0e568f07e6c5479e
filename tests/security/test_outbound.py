"""SSRF: URLs a user supplies (Prometheus scrape targets, alert webhooks) reach only allowed
hosts; ``*`` means public hosts, checked on the resolved addresses; redirects are never
followed."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from modelyard.kit.outbound import refusal
from modelyard.targets.base import TargetDown, TargetError
from modelyard.targets.prometheus import PrometheusTarget
from modelyard.targets.schemas import PrometheusConfig

INWARD = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://localhost:9100/metrics",  # a name that resolves to loopback
    "http://127.0.0.1:9100/metrics",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.1/",  # and in hex
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::1]/",
    "http://10.1.2.3/",
    "http://192.168.0.1/",
    "http://0.0.0.0/",
]


@pytest.mark.parametrize("url", INWARD)
def test_star_allows_public_hosts_only(url: str) -> None:
    reason = refusal(url, ["*"], "live.scrape_hosts")
    assert reason is not None and "non-public address" in reason
    assert refusal(url, ["*"], "webhooks.hosts") is not None


def test_listed_hosts_and_addresses_are_allowed() -> None:
    assert refusal("http://127.0.0.1:9/x", ["127.0.0.1"], "s") is None
    assert refusal("http://[::1]:9/x", ["::1"], "s") is None
    assert refusal("http://10.1.2.3/", ["*", "10.1.2.3"], "s") is None
    assert refusal("http://93.184.216.34/hook", ["*"], "s") is None  # a public address


def test_another_spelling_of_a_listed_address_is_not_listed() -> None:
    assert refusal("http://2130706433/", ["127.0.0.1"], "s") is not None
    assert refusal("http://metrics.example/", ["127.0.0.1"], "s") is not None


@pytest.fixture
def redirector() -> Iterator[str]:
    """A loopback server that answers every request with a redirect to the metadata address."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_scrape_does_not_follow_a_redirect(redirector: str) -> None:
    config = PrometheusConfig(url=redirector, metrics={"ops_per_sec": {"metric": "x"}})
    target = PrometheusTarget(config, allowed_hosts=["127.0.0.1"])
    with pytest.raises(TargetDown, match="HTTP 302"):
        target.start()
    target.stop()


def test_scrape_of_a_name_resolving_inward_is_refused_under_star() -> None:
    config = PrometheusConfig(
        url="http://localhost:1/metrics", metrics={"ops_per_sec": {"metric": "x"}}
    )
    with pytest.raises(TargetError, match="non-public address"):
        PrometheusTarget(config, allowed_hosts=["*"]).start()
