"""One typed settings object, read once from the environment (``C2M_*``)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_WORDS = ("change-me", "changeme", "insecure", "example", "secret-key", "password")


def strong_secret(key: str) -> bool:
    """At least 32 characters, at least 12 different ones, and no placeholder's words (the
    compose file's dev default says ``insecure`` and ``change-me`` on purpose)."""
    lowered = key.lower()
    return (
        len(key) >= 32
        and len(set(key)) >= 12
        and not any(word in lowered for word in PLACEHOLDER_WORDS)
    )


class Settings(BaseSettings):
    # An empty variable (compose passes `${X:-}` through) means "not set".
    model_config = SettingsConfigDict(env_prefix="C2M_", extra="ignore", env_ignore_empty=True)

    env: Literal["dev", "test", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("c2m")))
    secret_key: str | None = None
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # OpenTelemetry: an OTLP/HTTP collector's base URL (e.g. http://otel-collector:4318); unset:
    # no tracing at all. Needs `pip install 'c2m[otel]'`.
    otel_endpoint: str | None = None
    access_log: bool = False  # one line per HTTP request (method, path, status, ms, request id)

    # Tokens
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    # GraphQL limits
    max_query_depth: int = 12
    max_aliases: int = 30
    max_query_fields: int = 500
    max_query_cost: int = 25_000
    max_tokens: int = 2000
    max_body_bytes: int = 256 * 1024
    introspection: bool | None = None  # default: on, except in production
    fast_lane: bool = True  # castVote/placePreorder of a simple shape without the executor
    trusted_documents_only: bool = False
    persisted_documents_file: Path | None = None
    apq_ttl_seconds: int = 24 * 3600
    apq_max_document_bytes: int = 20_000
    apq_registrations_per_minute: int = 20  # per client (member, factory or address)
    apq_registrations_per_hour: int = 500  # for everyone: at most ~10 MB of documents per hour
    # Honest use: rate limits, sliding windows in Redis ("<n>/<second|minute|hour>"; empty: none).
    # Addresses are what uvicorn reports (X-Forwarded-For from a trusted proxy): many members
    # share one NAT or proxy address, so its limit is far above one member's.
    vote_rate_per_member: str = "30/minute"  # per poll: re-votes included
    login_rate_per_member: str = "10/minute"
    # Default: 600/minute in production; none in dev and test, where every client (the load
    # tools, the scenario runners) signs in from one loopback address with the dev login.
    login_rate_per_address: str | None = None
    # WebSockets (graphql-transport-ws only)
    ws_max_sockets_per_identity: int = 10  # per API process
    ws_max_subscriptions_per_socket: int = 10
    ws_connection_init_timeout_seconds: float = 10.0

    # WeChat mini-program login (code2session)
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout_seconds: float = 5.0
    wechat_template_drop_opened: str = "sandbox-drop-opened"

    # Payments: "sandbox" (pays itself through our webhook) or "wechat" (WeChat Pay API v3)
    payments: Literal["sandbox", "wechat"] = "sandbox"
    public_url: str | None = None  # how WeChat (and the sandbox) reach us; notify URL base
    wechatpay_mchid: str | None = None
    wechatpay_private_key_file: Path | None = None
    wechatpay_cert_serial: str | None = None
    wechatpay_platform_cert_file: Path | None = None
    wechatpay_platform_serial: str | None = None
    wechatpay_apiv3_key: str | None = None
    wechatpay_api_base: str = "https://api.mch.weixin.qq.com"

    # Try-on media uploads: an S3-compatible bucket when C2M_S3_BUCKET is set; otherwise files
    # under the data dir, uploaded to and served by the API process (one machine only).
    media_max_image_bytes: int = 10 * 1024 * 1024
    media_max_video_bytes: int = 200 * 1024 * 1024
    s3_endpoint: str | None = None  # host[:port], e.g. "oss-cn-hangzhou.aliyuncs.com"
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_secure: bool = True
    s3_public_base_url: str | None = None  # a CDN in front of the bucket's media/ prefix

    # Worker
    worker_concurrency: int = 50
    worker_metrics_port: int | None = None  # each worker's /metrics on this port (unset: none)
    queue_name: str = "c2m:{jobs}"
    # A job a worker took and did not finish (the worker died) is given to another after this.
    job_redeliver_seconds: int = 30

    # Connection pools
    db_pool_size: int = 20
    db_max_overflow: int = 10
    db_pool_timeout_seconds: float = 5.0
    redis_max_connections: int = 200
    redis_pool_timeout_seconds: float = 5.0

    @property
    def is_dev(self) -> bool:
        return self.env in ("dev", "test")

    @cached_property
    def jwt_secret(self) -> str:
        """The signing key; generated once and kept in the data dir outside production."""
        if self.secret_key:
            return self.secret_key
        if self.env == "production":
            raise RuntimeError("C2M_SECRET_KEY must be set when C2M_ENV=production")
        path = self.data_dir / "secret_key"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            path.write_text(key)
            path.chmod(0o600)
            return key

    def login_rate_per_address_rule(self) -> str:
        if self.login_rate_per_address is not None:
            return self.login_rate_per_address
        return "600/minute" if self.env == "production" else ""

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else self.env != "production"

    def check(self) -> None:
        """Fail fast on settings that cannot work together."""
        if self.env == "production":
            if not self.secret_key:
                raise RuntimeError("C2M_SECRET_KEY must be set when C2M_ENV=production")
            if not strong_secret(self.secret_key):
                raise RuntimeError(
                    "C2M_SECRET_KEY is too weak for production: use at least 32 random "
                    "characters, not a placeholder (e.g. the output of "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            if not (self.wechat_app_id and self.wechat_app_secret):
                raise RuntimeError(
                    "C2M_WECHAT_APP_ID and C2M_WECHAT_APP_SECRET must be set when "
                    "C2M_ENV=production (the dev identity provider is disabled there)"
                )
        if self.s3_bucket and not (self.s3_endpoint and self.s3_access_key and self.s3_secret_key):
            raise RuntimeError(
                "C2M_S3_BUCKET needs C2M_S3_ENDPOINT, C2M_S3_ACCESS_KEY and C2M_S3_SECRET_KEY"
            )
        if self.payments == "wechat":
            missing = [
                n
                for n in (
                    "wechatpay_mchid",
                    "wechatpay_private_key_file",
                    "wechatpay_cert_serial",
                    "wechatpay_platform_cert_file",
                    "wechatpay_platform_serial",
                    "wechatpay_apiv3_key",
                    "public_url",
                    "wechat_app_id",
                )
                if not getattr(self, n)
            ]
            if missing:
                raise RuntimeError(
                    "C2M_PAYMENTS=wechat needs " + ", ".join(f"C2M_{m.upper()}" for m in missing)
                )
        elif self.env == "production":
            raise RuntimeError(
                "C2M_ENV=production needs C2M_PAYMENTS=wechat (the sandbox "
                "provider pays for everything)"
            )
