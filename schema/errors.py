"""The one error convention of every mutation: a payload with ``errors { code message field }``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import DomainError
from domain.errors import ErrorCode as DomainErrorCode
from schema.context import Context

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode", description="Machine-readable error codes.")

T = TypeVar("T")


@strawberry.type(description="Why a mutation did not change anything.")
class UserError:
    code: ErrorCode  # type: ignore[valid-type]
    message: str
    field: str | None = None

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)  # type: ignore[arg-type]


async def in_unit_of_work(
    ctx: Context, work: Callable[[AsyncSession], Awaitable[T]]
) -> T | UserError:
    """Run ``work`` in one transaction; a domain error rolls it back and becomes a UserError."""
    try:
        async with ctx.unit_of_work() as session:
            return await work(session)
    except DomainError as error:
        return UserError.from_domain(error)
