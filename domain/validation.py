"""Small input checks shared by the bounded contexts; each raises ValidationFailed with a field."""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import ValidationFailed

MAX_URL = 1024


def text(value: str, field: str, *, min_len: int = 0, max_len: int) -> str:
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        if min_len:
            raise ValidationFailed(f"{field} must be {min_len} to {max_len} characters.", field=field)
        raise ValidationFailed(f"{field} must be at most {max_len} characters.", field=field)
    return value


def https_url(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip()
    if len(value) > MAX_URL or not value.startswith("https://") or any(c.isspace() for c in value):
        raise ValidationFailed(f"{field} must be an https URL (at most {MAX_URL} characters).",
                               field=field)
    return value


def https_urls(values: Sequence[str], field: str, *, min_count: int, max_count: int) -> list[str]:
    if not min_count <= len(values) <= max_count:
        raise ValidationFailed(f"{field} needs {min_count} to {max_count} URLs.", field=field)
    return [https_url(v, field) or "" for v in values]


def tags(values: Sequence[str], field: str, *, max_count: int, max_len: int) -> list[str]:
    out: list[str] = []
    for v in values:
        v = v.strip()
        if not v:
            continue
        if len(v) > max_len:
            raise ValidationFailed(f"each {field} entry must be at most {max_len} characters.",
                                   field=field)
        if v not in out:
            out.append(v)
    if len(out) > max_count:
        raise ValidationFailed(f"{field} takes at most {max_count} entries.", field=field)
    return out


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 64:
        raise ValidationFailed("idempotencyKey must be 1 to 64 characters.", field="idempotencyKey")
    return value
