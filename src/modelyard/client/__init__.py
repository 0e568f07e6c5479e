"""modelyard's Python client: every API group of a server, returning the server's own schemas.

    from modelyard.client import Client

    with Client("http://127.0.0.1:8000", token="...") as client:   # or MODELYARD_URL/_TOKEN
        client.models.create("sales", tags={"team": "forecasting"})
        version = client.versions.create("sales", flavor="formula",
                                         parameters={"kind": "linear", "coef": {"x": 2.0}})
        client.aliases.set("sales", "production", version.version)
        evaluation = client.evaluations.create("sales@production", dataset="sales-2026", target="y")
        done = client.evaluations.wait(evaluation.id, progress=lambda job: print(job.progress))
        print(done.metrics["mape"])

:class:`Client` blocks; :class:`AsyncClient` has the same methods to ``await`` (and ``async
for`` over lists and streams). Lists are iterators that fetch a page at a time. Connection
failures and 429/503 answers are retried (:class:`RetryPolicy`); a problem answer raises
:class:`ApiError` with its ``status``, ``title`` and ``detail``.

The package imports httpx and pydantic, never the server (FastAPI, SQLAlchemy): it runs
wherever the ``modelyard`` package is installed, with or without the server's extras.
"""

from modelyard.kit.optional_imports import hidden

# httpx imports its command line (click, rich and pygments: ~7 MB, a tenth of a second) when
# click is installed, as the server's dependencies make it; the client never runs it.
with hidden("click"):
    import httpx  # noqa: F401

from modelyard.client._async import AsyncClient
from modelyard.client._config import (
    DEFAULT_URL,
    Connection,
    config_path,
    load_config,
    remove_profile,
    resolve,
    save_profile,
)
from modelyard.client._errors import (
    ApiError,
    ConnectionFailed,
    FieldError,
    ModelyardError,
    UploadFailed,
)
from modelyard.client._retry import RetryPolicy
from modelyard.client._sse import ServerEvent
from modelyard.client._sync import Client

__all__ = [
    "DEFAULT_URL",
    "ApiError",
    "AsyncClient",
    "Client",
    "Connection",
    "ConnectionFailed",
    "FieldError",
    "ModelyardError",
    "RetryPolicy",
    "ServerEvent",
    "UploadFailed",
    "config_path",
    "load_config",
    "remove_profile",
    "resolve",
    "save_profile",
]
