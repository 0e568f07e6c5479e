"""Settings, read once from the environment (prefix ``MODELYARD_``) and grouped by concern.

``MODELYARD_HOME`` is the data directory (database, artifacts, datasets, job queue);
``MODELYARD_DATABASE_URL`` overrides the SQLite file under it. Nested groups use a double
underscore: ``MODELYARD_JOBS__WORKERS=4``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseModel):
    session_hours: int = 12
    token_days: int = 90
    cookie_name: str = "modelyard_session"
    cookie_secure: bool = False
    """Send the session cookie with ``Secure`` (set it when the server is reached over https)."""
    login_window_seconds: int = 900
    """Failed logins are counted over this window; a lock ends when they age out of it."""
    login_failures_per_user: int = 5
    """Failures for one user name from one address before that pair is refused (429)."""
    login_failures_per_address: int = 20
    """Failures from one address, whatever the names, before that address is refused."""
    login_failures_per_user_any_address: int = 20
    """Failures for one user name from all addresses before addresses the user has not
    signed in from lately are refused for that name (their known addresses still work)."""
    login_known_address_days: int = 30
    """How long a successful login marks its address as known for that user."""
    trusted_proxies: list[str] = []
    """Reverse proxies (addresses or networks, e.g. ``["127.0.0.1", "10.0.0.0/8"]``) whose
    ``X-Forwarded-For`` names the client: the login throttle then counts per client, not
    per proxy. Empty: the TCP peer is the client."""


class JobSettings(BaseModel):
    workers: int = 2
    """Worker threads that ``modelyard serve`` starts in-process (0: none, run ``modelyard worker``)."""
    backend: str = "auto"
    """``sqlite`` (embedded), ``redis``, ``postgres`` (Huey's tables in the PostgreSQL database)
    or ``auto`` (redis when a Redis URL is set, else sqlite)."""
    stale_after_seconds: float = 30.0
    """A running job whose worker has not beaten for this long is taken as crashed."""
    queue_name: str = "modelyard"
    """Name of the queue (Huey name, Redis key prefix); workers serve one queue."""
    retry_backoff_seconds: float = 2.0
    """First automatic retry delay; it doubles with each attempt (at most 10 minutes)."""
    poll_seconds: float = 0.25
    """Idle poll of the SQLite queue (and the longest blocking read on Redis/PostgreSQL)."""
    progress_flush_seconds: float = 0.25
    """Progress reaches SSE clients at once; it is written to the jobs row at most this often."""
    shutdown_grace_seconds: float = 10.0
    """On shutdown, running jobs have this long to reach a checkpoint and be re-queued."""


class CacheSettings(BaseModel):
    enabled: bool = True
    ttl_seconds: int = 60
    """Lifetime of an entry (entries are keyed by a generation, so this bounds memory, not
    staleness)."""
    url: str | None = None
    """A cashews URL; unset: ``mem://`` in-process, or Redis client-side caching (an
    in-process copy in front of Redis) when ``MODELYARD_REDIS_URL`` is set."""
    size: int = 1_000
    """Entries kept in process (the ``mem://`` cache or the client-side copy), each at most
    128 KiB (larger results are not cached)."""
    key_prefix: str = "modelyard:cache:"
    """Prefix of every key the cache writes to Redis."""


class ServerSettings(BaseModel):
    """What one server process accepts from its clients (see the README's Limits)."""

    max_body_bytes: int = 1 << 20
    """Largest request body of an ordinary (JSON or form) request; upload routes take the
    storage limits instead."""
    max_anonymous_body_bytes: int = 8 << 10
    """Bytes read from a request before its credentials are checked: a request without valid
    credentials never gets more read (401 without or with bad credentials where the route
    needs them, 413 on open routes such as login)."""
    max_push_bytes: int = 8 << 20
    """Largest pushed metrics batch (POST /api/targets/{target}/metrics): about 80,000
    samples of a few metrics; the body is held in memory while it is parsed."""
    max_streams: int = 4000
    """Event streams (SSE) one server process holds open; past it a new one is a 429."""
    max_streams_per_user: int = 32
    """Event streams one user may hold open on one server process (a browser needs one)."""
    max_connections: int | None = None
    """Requests one server process handles at once, streams included (granian's
    backpressure); default ``max_streams`` + 1024, so that ordinary requests are always
    served however many streams are open."""
    backlog: int = 4096
    """Connections the kernel queues for a server process before it accepts them."""

    @property
    def concurrency(self) -> int:
        return self.max_connections or self.max_streams + 1024


class StorageSettings(BaseModel):
    url: str | None = None
    """Where every file is kept: unset, under ``MODELYARD_HOME``; ``s3://bucket/prefix``, an
    S3-compatible object store that servers and workers on any machine share."""
    endpoint_url: str | None = None
    """The object store's address (``http://minio:9000``); unset: ``AWS_ENDPOINT_URL``, else AWS."""
    region: str | None = None
    """Unset: ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else ``us-east-1``."""
    access_key_id: str | None = None
    """Unset: the AWS SDK's usual chain (``AWS_ACCESS_KEY_ID``, ``~/.aws``, instance roles)."""
    secret_access_key: SecretStr | None = None
    connect_timeout_seconds: float = 5.0
    request_timeout_seconds: float = 60.0
    attempts: int = 3
    """Tries per object store request before it counts as unavailable."""
    artifact_cache_bytes: int = 10 << 30
    """A worker keeps artifacts it loaded from an object store under ``<home>/cache`` up to
    this size (content-addressed, so a cached copy is never stale)."""
    max_artifact_bytes: int = 1 << 30
    max_artifact_members: int = 10_000
    """Files in an artifact archive (a skops zip) at most."""
    max_artifact_unpacked_bytes: int = 8 << 30
    """What an artifact archive's files add up to once unpacked, at most."""
    max_artifact_metadata_bytes: int = 64 << 20
    """An archive's metadata member (a skops file's ``schema.json``), unpacked, at most:
    it is parsed whole into memory, at about twice its size."""
    max_dataset_bytes: int = 20 << 30
    max_dataset_decompressed_bytes: int = 64 << 30
    """What a compressed dataset upload may inflate to, at most."""
    max_dataset_inflation: float = 100.0
    """A compressed dataset upload may also inflate to at most this many times its own size
    (past its first 64 MiB): real tables compress 3-20x, a decompression bomb 1,000x."""
    max_dataset_rows: int = 1_000_000_000
    max_parquet_metadata_bytes: int = 16 << 20
    """A Parquet file's footer (its schema, row groups and key-value metadata), at most:
    pyarrow holds it in memory, at several times its size."""


class LiveSettings(BaseModel):
    enabled: bool = True
    """Follow running targets and evaluate deployments in this process (``modelyard serve``)."""
    raw_retention_hours: float = 24.0
    rollup_retention_days: float = 30.0
    lease_seconds: float = 10.0
    scrape_hosts: list[str] = ["127.0.0.1", "localhost", "::1"]
    """Hosts a prometheus target may scrape (``*`` allows any): a server that fetches URLs a
    user typed must not become a way into the rest of the network."""
    max_process_targets: int = 2
    """Embedded RocksDB and db_bench targets one process runs at once (each takes CPU)."""


class AlertSettings(BaseModel):
    enabled: bool = True
    """Evaluate alert rules and send notifications in this process (``modelyard serve``)."""
    interval_seconds: float = 15.0
    """How often rules are evaluated; a rule's ``for`` is counted in these ticks."""
    min_requests: int = 20
    """Fewer requests than this in a latency window give no p99 (one slow call is not a trend)."""
    latency_exclude_routes: list[str] = ["/events", "/stream", "/metrics"]
    """Routes whose template contains one of these are left out of the latency p99 (long-lived
    streams would otherwise dominate it)."""


class ServingSettings(BaseModel):
    max_request_bytes: int = 64 << 20
    """Largest prediction request body; a larger one is a 413 before it is read whole."""
    models_cached: int = 8
    """Loaded versions kept in memory per process for online predictions."""
    log_batch_rows: int = Field(default=10_000, ge=1)
    """Logged predictions (models with prediction logging on) become a dataset once this many
    rows wait in a process..."""
    log_flush_seconds: float = Field(default=300.0, gt=0)
    """...or once the oldest of them waited this long."""
    log_max_buffered_rows: int = Field(default=200_000, ge=1)
    """Rows of one model a process keeps while its datasets cannot be written; further rows
    are not logged (and counted as dropped)."""


class ImportSettings(BaseModel):
    mlflow_hosts: list[str] = ["127.0.0.1", "localhost", "::1"]
    """Hosts an MLflow import may read from (``*``: any public host). The server fetches a URL
    a user typed, so private addresses must be listed to be reached."""


class WebhookSettings(BaseModel):
    """Every outbound notification: webhooks and alert channels share one delivery queue."""

    enabled: bool = True
    """Send due deliveries from this process (``modelyard serve``); any process may queue them."""
    hosts: list[str] = ["*"]
    """Hosts webhooks and alert channels may post to; ``*`` means any public host (a name that
    resolves to a loopback, private or metadata address is refused unless listed)."""
    timeout_seconds: float = 5.0
    attempts: int = 5
    """Attempts per delivery before it is recorded as failed."""
    retry_backoff_seconds: float = 10.0
    """Delay before the second attempt; it doubles with each further attempt."""
    poll_seconds: float = 1.0
    """How often the sender looks for due deliveries (queued here or by any other process)."""
    retention_days: float = 30.0
    """Sent and failed deliveries older than this are removed from the delivery log."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODELYARD_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path = Path(".modelyard")
    database_url: str | None = None
    redis_url: str | None = None
    echo_sql: bool = False
    profile_queries: bool = True
    """Time every SQL statement for GET /api/admin/queries (a few microseconds each)."""
    metrics_public: bool = False
    """Serve /metrics without a token (for a Prometheus on a trusted network)."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'modelyard.db').resolve()}"

    @property
    def scratch_dir(self) -> Path:
        """This machine's temporary files: uploads while they arrive, blobs being written."""
        return self.home / "tmp"

    @property
    def cache_dir(self) -> Path:
        """This machine's copies of blobs it reads as files (artifacts from an object store)."""
        return self.home / "cache"

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url) and self.jobs.backend in ("auto", "redis")


@lru_cache
def get_settings() -> Settings:
    return Settings()
