from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.drops import orders, progress, teams
from domain.drops.models import SELLING, OrderStatus, TeamStatus
from domain.drops.models import Order as OrderRow
from domain.drops.reservations import channel
from schema.context import Context
from schema.drops.types import DropProgress, Order, Team
from schema.ids import decode_id


@strawberry.type
class DropSubscription:
    @strawberry.subscription(
        description="Live progress of a drop, pushed when it changes (at "
        "most every 500 ms) while it sells. Who may follow is checked when the subscription "
        "starts."
    )
    async def drop_progress(
        self, info: Info[Context, Any], drop_id: relay.GlobalID
    ) -> AsyncGenerator[DropProgress, None]:
        ctx = info.context
        did = decode_id(drop_id, "Drop", "dropId")
        actor = ctx.authenticated_actor()
        services = ctx.services
        async with ctx.sessionmaker() as session:  # this follower's own check, once
            first = await progress.progress(
                session,
                ctx.sessionmaker,
                services.reservations,
                actor,
                did,
                services.published_variants,
            )
        yield DropProgress.from_domain(first)
        if not _selling(first):
            return

        async def read() -> progress.DropProgress | None:
            async with ctx.sessionmaker() as session:
                return await progress.current_progress(
                    session,
                    ctx.sessionmaker,
                    services.reservations,
                    did,
                    services.published_variants,
                )

        async for current in services.feeds.follow(
            channel(did), read, _signature, _selling, last=_signature(first)
        ):
            if current is not None:
                yield DropProgress.from_domain(current)

    @strawberry.subscription(
        description="An order as its status changes (paid, confirmed, in production, shipped, "
        "delivered, cancelled, refunded), pushed as each change commits; the current state "
        "first. Ends once nothing more can happen to it (delivered, refunded, or cancelled "
        "unpaid). Its member and operators only."
    )
    async def order_updates(
        self, info: Info[Context, Any], order_id: relay.GlobalID
    ) -> AsyncGenerator[Order, None]:
        ctx = info.context
        oid = decode_id(order_id, "Order", "orderId")
        actor = ctx.authenticated_actor()
        async with ctx.services.order_events.follow(oid) as changed:
            async with ctx.read_session() as session:
                current = await orders.get_order(session, actor, oid)
            yield Order.from_model(current)
            last = current.status
            while not _order_over(current):
                await changed.wait()
                changed.clear()
                async with ctx.read_session() as session:
                    current = await orders.get_order(session, actor, oid)
                if current.status is not last:
                    last = current.status
                    yield Order.from_model(current)

    @strawberry.subscription(
        description="A group-buy team's seats (taken, paid, left) and status, pushed when they "
        "change (at most every 500 ms) until the team is FULL or FAILED."
    )
    async def team_progress(
        self, info: Info[Context, Any], share_token: str
    ) -> AsyncGenerator[Team, None]:
        ctx = info.context
        actor = ctx.authenticated_actor()
        async with ctx.sessionmaker() as session:  # this follower's own check, once
            first = await teams.by_token(session, actor, share_token)
        yield Team.from_view(first)
        if first.team.status is not TeamStatus.OPEN:
            return
        team_id = first.team.id

        async def read() -> teams.TeamView | None:
            async with ctx.sessionmaker() as session:
                return (await teams.views_of(session, [team_id])).get(team_id)

        async for current in ctx.services.feeds.follow(
            channel(first.team.drop_id),
            read,
            _team_signature,
            _team_open,
            last=_team_signature(first),
            key=f"team:{team_id}",
        ):
            if current is not None:
                yield Team.from_view(current)


FINAL_ORDER_STATUSES = (OrderStatus.DELIVERED, OrderStatus.REFUNDED)


def _order_over(o: OrderRow) -> bool:
    """Nothing more will happen to the order: delivered, refunded, or cancelled unpaid."""
    return o.status in FINAL_ORDER_STATUSES or (
        o.status is OrderStatus.CANCELLED and o.paid_at is None
    )


def _team_open(v: teams.TeamView | None) -> bool:
    return v is not None and v.team.status is TeamStatus.OPEN


def _team_signature(v: teams.TeamView | None) -> tuple[object, ...]:
    return () if v is None else (v.taken, v.paid, v.team.status)


def _selling(p: progress.DropProgress | None) -> bool:
    return p is not None and p.drop.status in SELLING


def _signature(p: progress.DropProgress | None) -> tuple[object, ...]:
    return () if p is None else (p.reserved, p.buyers, p.drop.status)
