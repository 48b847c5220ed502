"""Small input checks shared by the bounded contexts; each raises ValidationFailed with a field."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from domain.errors import Conflict, ErrorCode, ValidationFailed

MAX_URL = 1024
MAX_IDEMPOTENCY_KEY = 64

# What PostgreSQL cannot store (NUL) or UTF-8 cannot encode (lone surrogates), and control
# characters nobody types (tab, newline and carriage return are fine).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


def text(value: str, field: str, *, min_len: int = 0, max_len: int) -> str:
    if not clean_text(value):
        raise ValidationFailed(f"{field} contains characters that are not allowed.", field=field)
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        if min_len:
            raise ValidationFailed(
                f"{field} must be {min_len} to {max_len} characters.", field=field
            )
        raise ValidationFailed(f"{field} must be at most {max_len} characters.", field=field)
    return value


def https_url(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip()
    if (
        len(value) > MAX_URL
        or not value.startswith("https://")
        or not clean_text(value)
        or any(c.isspace() for c in value)
    ):
        raise ValidationFailed(
            f"{field} must be an https URL (at most {MAX_URL} characters).", field=field
        )
    return value


def https_urls(values: Sequence[str], field: str, *, min_count: int, max_count: int) -> list[str]:
    if not min_count <= len(values) <= max_count:
        raise ValidationFailed(f"{field} needs {min_count} to {max_count} URLs.", field=field)
    return [https_url(v, field) or "" for v in values]


def tags(values: Sequence[str], field: str, *, max_count: int, max_len: int) -> list[str]:
    out: list[str] = []
    for v in values:
        if not clean_text(v):
            raise ValidationFailed(
                f"{field} contains characters that are not allowed.", field=field
            )
        v = v.strip()
        if not v:
            continue
        if len(v) > max_len:
            raise ValidationFailed(
                f"each {field} entry must be at most {max_len} characters.", field=field
            )
        if v not in out:
            out.append(v)
    if len(out) > max_count:
        raise ValidationFailed(f"{field} takes at most {max_count} entries.", field=field)
    return out


def idempotency_key(value: str | None) -> str | None:
    """An idempotency key is 1 to 64 characters of the client's choosing (a UUID fits)."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_IDEMPOTENCY_KEY or not clean_text(value):
        raise ValidationFailed(
            f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY} characters.", field="idempotencyKey"
        )
    return value


def payload_hash(payload: Any) -> bytes:
    """sha256 of a request's canonical JSON: what an idempotency key is bound to."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).digest()


def same_request(stored: bytes | None, digest: bytes) -> None:
    """The one meaning of a reused idempotency key, for every mutation that takes one: the same
    request again gets the same object back; another request under the same key is refused."""
    if stored is not None and stored != digest:
        raise Conflict(
            "This idempotency key was used for a different request.",
            field="idempotencyKey",
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
