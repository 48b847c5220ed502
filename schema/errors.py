"""The one error convention of every mutation, and the one path every mutation takes.

A mutation returns a payload with ``errors { code message field ... }``: an empty list means it
happened; a non-empty one means nothing changed. ``mutate`` runs the mutation's work in one unit
of work and turns a domain error into that payload (as Saleor's base mutation does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.errors import DomainError
from domain.errors import ErrorCode as DomainErrorCode
from domain.identity.actor import Actor
from schema.context import Context

ErrorCode = DomainErrorCode
strawberry.enum(ErrorCode, name="ErrorCode", description="Machine-readable error codes.")


@strawberry.type(description="Why a mutation did not change anything.")
class UserError:
    code: ErrorCode
    message: str
    field: str | None = None
    remaining: int | None = strawberry.field(
        default=None,
        description="How many units are left (SOLD_OUT, VARIANT_SOLD_OUT) or may "
        "still be ordered (MEMBER_LIMIT_EXCEEDED).",
    )
    variant_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The variant at fault (VARIANT_SOLD_OUT, UNKNOWN_VARIANT)."
    )

    opens_at: datetime | None = strawberry.field(
        default=None,
        description="DROP_NOT_OPEN, NOT_OPEN_YET: when you may pre-order (a voter of the "
        "style: when the head start begins).",
    )

    retry_after_seconds: int | None = strawberry.field(
        default=None, description="RATE_LIMITED: seconds until you may try again."
    )

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        variant = error.data.get("variant_id")
        return cls(
            code=error.code,
            message=error.message,
            field=error.field,
            remaining=error.data.get("remaining"),
            variant_id=relay.GlobalID("DropVariant", str(variant)) if variant else None,
            opens_at=error.data.get("opens_at"),
            retry_after_seconds=error.data.get("retry_after_seconds"),
        )


P = TypeVar("P")


async def mutate(
    info: Info[Context, Any],
    payload: Callable[..., P],
    work: Callable[[AsyncSession, Actor], Awaitable[P]],
    *,
    signed_in: bool = True,
) -> P:
    """Run ``work`` in one transaction as the caller; a domain error rolls it back and becomes
    ``payload(errors=[...])``. ``signed_in=False`` for the mutations that sign people in (a
    stale token must not stop a fresh login)."""
    ctx = info.context
    try:
        actor = ctx.authenticated_actor() if signed_in else ctx.actor
        async with ctx.unit_of_work() as session:
            return await work(session, actor)
    except DomainError as error:
        _note_retry(ctx, error)
        return payload(errors=[UserError.from_domain(error)])


async def respond(
    info: Info[Context, Any],
    payload: Callable[..., P],
    work: Callable[[Actor], Awaitable[P]],
) -> P:
    """``mutate`` for work that runs its own transactions (a group commit shares one between
    requests): the caller signed in, a domain error becomes ``payload(errors=[...])``."""
    try:
        return await work(info.context.authenticated_actor())
    except DomainError as error:
        _note_retry(info.context, error)
        return payload(errors=[UserError.from_domain(error)])


def _note_retry(ctx: Context, error: DomainError) -> None:
    retry = error.data.get("retry_after_seconds")
    if isinstance(retry, int):
        ctx.retry_after(retry)
