"""Where an API process's CPU goes, by layer, from a py-spy profile in folded form.

    python -m bench.vote_storm --profile /tmp/prof ...    then
    python -m bench.layers /tmp/prof/graphql.folded

Each sample is charged to the innermost frame that belongs to a known layer (so time in
asyncpg called from SQLAlchemy counts as asyncpg). Idle samples are left out."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# The first component of a frame's file path -> its layer; a sample is charged to the innermost
# frame whose layer is known.
LAYERS: dict[str, str] = {
    "json": "JSON",
    "orjson": "JSON",
    "asyncpg": "asyncpg",
    "redis": "redis-py",
    "sqlalchemy": "SQLAlchemy",
    "jwt": "JWT",
    "strawberry": "GraphQL execution (strawberry, graphql-core)",
    "graphql": "GraphQL execution (strawberry, graphql-core)",
    "cross_web": "GraphQL execution (strawberry, graphql-core)",
    "uvicorn": "HTTP (uvicorn, starlette, httptools)",
    "starlette": "HTTP (uvicorn, starlette, httptools)",
    "httptools": "HTTP (uvicorn, starlette, httptools)",
    "h11": "HTTP (uvicorn, starlette, httptools)",
    "schema": "our GraphQL layer (schema/, server/)",
    "server": "our GraphQL layer (schema/, server/)",
    "domain": "our domain and infra",
    "infra": "our domain and infra",
    "prometheus_client": "metrics",
    "asyncio": "event loop (asyncio, uvloop)",
    "uvloop": "event loop (asyncio, uvloop)",
    "selectors": "event loop (asyncio, uvloop)",
}
FRAME = re.compile(r"\(([^:()]+):\d+\)$")
IDLE = ("select (selectors.py", "poll (selectors.py")


def layer_of(stack: list[str]) -> str | None:
    for frame in reversed(stack):
        m = FRAME.search(frame)
        if m is None:
            continue
        path = m.group(1)
        if "identity/tokens.py" in path:
            return "JWT"
        first = path.split("/", 1)[0]
        if first in LAYERS and not (first in ("server", "schema") and "site-packages" in path):
            return LAYERS[first]
    return None


def main() -> None:
    counts: Counter[str] = Counter()
    for line in Path(sys.argv[1]).read_text().splitlines():
        stack_text, _, n = line.rpartition(" ")
        stack = stack_text.split(";")
        if stack and any(i in stack[-1] for i in IDLE):
            continue
        counts[layer_of(stack) or "other"] += int(n)
    total = sum(counts.values())
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
