FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY server ./server
COPY schema ./schema
COPY domain ./domain
COPY workers ./workers
COPY infra ./infra
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --create-home c2m
USER c2m
EXPOSE 8000
# The API; the compose file runs `c2m worker` from the same image.
CMD ["c2m", "api", "--host", "0.0.0.0", "--port", "8000"]
