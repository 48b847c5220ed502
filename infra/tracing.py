"""Optional OpenTelemetry tracing: when ``C2M_OTEL_ENDPOINT`` names an OTLP/HTTP collector, each
process exports its spans there (GraphQL operations and resolvers through strawberry's own
extension, SQLAlchemy statements, Redis commands), batched in the background. When it is unset,
nothing is imported and nothing runs: the hot path pays nothing.

The packages are an extra: ``pip install 'c2m[otel]'`` (the Docker image includes them)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.config import Settings

log = logging.getLogger(__name__)
_configured = False


def _require() -> None:
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            "C2M_OTEL_ENDPOINT is set but the tracing packages are not installed: "
            "pip install 'c2m[otel]'"
        ) from exc


def setup_tracing(settings: Settings, service: str) -> bool:
    """Install the tracer provider and the Redis instrumentation once per process; True when
    tracing is on."""
    global _configured
    if not settings.otel_endpoint:
        return False
    _require()
    if _configured:
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    endpoint = settings.otel_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _configured = True
    log.info("tracing to %s as %s", endpoint, service)
    return True


def instrument_engine(settings: Settings, engine: AsyncEngine) -> None:
    if not settings.otel_endpoint:
        return
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The instrumentation declares SQLAlchemy < 2.1 and would silently do nothing on our 2.1; the
    # engine events it hooks are unchanged in 2.1 (tests/server/test_tracing.py sees its spans).
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine,
        tracer_provider=trace.get_tracer_provider(),
        skip_dep_check=True,
    )


def schema_extensions(settings: Settings) -> list[Any]:
    """Strawberry's OpenTelemetry extension when tracing is on (async resolvers' spans)."""
    if not settings.otel_endpoint:
        return []
    _require()
    from strawberry.extensions.tracing import OpenTelemetryExtension

    return [OpenTelemetryExtension]


def flush() -> None:
    """Export what is buffered (a stopping process)."""
    if not _configured:
        return
    from opentelemetry import trace

    provider: Any = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush(timeout_millis=5000)
