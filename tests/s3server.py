"""An S3-compatible server for the tests and benchmarks: moto's standalone server
(``moto[server]``, a dev dependency), started as its own process on a free loopback port and
stopped by its PID.

MinIO is not installable from the package registries this project uses, and moto's server
is a real HTTP S3 endpoint (SigV4, multipart uploads, ranges), so the product talks to it the
way it talks to any object store; nothing in the client is patched. It is started with
authentication on: an IAM user with an S3 policy is created while the server still accepts
anyone, then every request must be signed with that user's key, so a wrong key is refused as
a real store would refuse it.

Moto keeps objects in memory and answers a ranged GET by copying the whole object, so read
figures measured against it are a floor for the product, not a property of it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    process: subprocess.Popen[bytes]
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    log: Path

    def settings_env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """What a modelyard process needs to use ``bucket`` on this server."""
        url = f"s3://{bucket}/{prefix}".rstrip("/")
        return {
            "MODELYARD_STORAGE__URL": url,
            "MODELYARD_STORAGE__ENDPOINT_URL": self.endpoint_url,
            "MODELYARD_STORAGE__REGION": REGION,
            "MODELYARD_STORAGE__ACCESS_KEY_ID": self.access_key_id,
            "MODELYARD_STORAGE__SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def create_bucket(self, name: str | None = None) -> str:
        import pyarrow.fs as pafs

        bucket = name or f"modelyard-{uuid.uuid4().hex[:12]}"
        fs = pafs.S3FileSystem(
            access_key=self.access_key_id,
            secret_key=self.secret_access_key,
            endpoint_override=self.endpoint_url.removeprefix("http://"),
            scheme="http",
            region=REGION,
            allow_bucket_creation=True,
        )
        fs.create_dir(bucket)
        return bucket

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def start_s3_server(log_dir: Path, *, timeout: float = 60.0) -> S3Server:
    """Start moto's server, wait until it answers, and turn authentication on."""
    port = _free_port()
    log = log_dir / f"moto-{port}.log"
    moto = Path(sys.executable).parent / "moto_server"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped by PID, with its children
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"moto_server did not start on {endpoint}: {log.read_text()[-2000:]}"
                ) from None
            time.sleep(0.2)
    try:
        key_id, secret = _enable_auth(endpoint)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return S3Server(process, endpoint, key_id, secret, log)


def _enable_auth(endpoint: str) -> tuple[str, str]:
    import boto3  # moto's own dependency

    anyone = {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": "setup",
        "aws_secret_access_key": "setup",
    }
    iam = boto3.client("iam", **anyone)
    iam.create_user(UserName="modelyard")
    key = iam.create_access_key(UserName="modelyard")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="modelyard", PolicyName="s3", PolicyDocument=json.dumps(policy))
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])
