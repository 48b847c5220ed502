from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.drops import service
from domain.errors import DomainError, ValidationFailed
from schema.context import Context
from schema.drops.types import Drop, DropPayload, Order, OrderPayload, PaymentMode
from schema.errors import UserError, in_unit_of_work
from schema.ids import decode_id


@strawberry.input
class DropVariantInput:
    size: str
    color: str
    cap: int | None = None


@strawberry.input
class PriceTierInput:
    min_quantity: int
    price_fen: int


@strawberry.input
class DropInput:
    title: str
    community_ids: list[relay.GlobalID]
    variants: list[DropVariantInput]
    price_fen: int
    payment_mode: PaymentMode  # type: ignore[valid-type]
    moq: int
    cap: int
    per_member_limit: int
    opens_at: datetime
    closes_at: datetime
    description: str = ""
    image_urls: list[str] = strawberry.field(default_factory=list)
    size_chart: str = ""
    tiers: list[PriceTierInput] = strawberry.field(default_factory=list)
    deposit_fen: int | None = None
    ship_from: date | None = None
    ship_until: date | None = None
    poll_option_id: relay.GlobalID | None = None
    unpaid_expiry_minutes: int = 30
    keep_deposit_on_default: bool = True

    def to_domain(self) -> service.DropInput:
        if len(self.community_ids) > 20:
            raise ValidationFailed("Choose 1 to 20 communities.", field="communityIds")
        return service.DropInput(
            title=self.title,
            community_ids=[decode_id(c, "Community", "communityIds") for c in self.community_ids],
            variants=[service.VariantInput(v.size, v.color, v.cap) for v in self.variants],
            price_fen=self.price_fen, payment_mode=self.payment_mode, moq=self.moq, cap=self.cap,
            per_member_limit=self.per_member_limit, opens_at=self.opens_at,
            closes_at=self.closes_at, description=self.description,
            image_urls=list(self.image_urls), size_chart=self.size_chart,
            tiers=[service.TierInput(t.min_quantity, t.price_fen) for t in self.tiers],
            deposit_fen=self.deposit_fen, ship_from=self.ship_from, ship_until=self.ship_until,
            poll_option_id=decode_id(self.poll_option_id, "PollOption", "pollOptionId")
            if self.poll_option_id else None,
            unpaid_expiry_minutes=self.unpaid_expiry_minutes,
            keep_deposit_on_default=self.keep_deposit_on_default,
        )


@strawberry.input
class OrderLineInput:
    variant_id: relay.GlobalID
    quantity: int


@strawberry.input
class ShippingAddressInput:
    name: str
    phone: str
    region: str
    detail: str


def _drop(out: Drop | UserError) -> DropPayload:
    return DropPayload(errors=[out]) if isinstance(out, UserError) else DropPayload(drop=out)


def _order(out: Order | UserError) -> OrderPayload:
    return OrderPayload(errors=[out]) if isinstance(out, UserError) else OrderPayload(order=out)


def _variant_id(gid: relay.GlobalID) -> int:
    try:
        return decode_id(gid, "DropVariant", "lines.variantId")
    except DomainError as exc:
        raise ValidationFailed("A variant does not belong to this drop.", field="lines",
                               code=service.ErrorCode.UNKNOWN_VARIANT) from exc


@strawberry.type
class DropMutation:
    @strawberry.mutation(description="KOCs: create a draft pre-sale drop.")
    async def create_drop(self, info: Info[Context, Any], input: DropInput,
                          idempotency_key: str | None = None) -> DropPayload:
        ctx = info.context

        async def work(session: Any) -> Drop:
            d = await service.create_drop(session, ctx.authenticated_actor(), input.to_domain(),
                                          idempotency_key)
            return Drop.from_model(d)

        return _drop(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="KOCs: replace a draft drop's fields and variants.")
    async def update_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID,
                          input: DropInput) -> DropPayload:
        ctx = info.context

        async def work(session: Any) -> Drop:
            did = decode_id(drop_id, "Drop", "dropId")
            d = await service.update_drop(session, ctx.authenticated_actor(), did,
                                          input.to_domain())
            return Drop.from_model(d)

        return _drop(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="KOCs: publish a draft (SCHEDULED, or OPEN if opensAt "
                         "has come). Voters of its poll option are notified when it opens.")
    async def publish_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        ctx = info.context

        async def work(session: Any) -> Drop:
            did = decode_id(drop_id, "Drop", "dropId")
            return Drop.from_model(await service.publish_drop(session, ctx.authenticated_actor(),
                                                              did))

        return _drop(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="KOCs: cancel a drop before settlement; every order is "
                         "cancelled and every payment refunded.")
    async def cancel_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        ctx = info.context

        async def work(session: Any) -> Drop:
            did = decode_id(drop_id, "Drop", "dropId")
            return Drop.from_model(await service.cancel_drop(session, ctx.authenticated_actor(),
                                                             did))

        return _drop(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="Pre-order. Retrying with the same idempotencyKey and the "
                         "same lines returns the same order; other lines with that key are "
                         "an error. Capacity is reserved at once; pay before expiresAt.")
    async def place_preorder(
        self, info: Info[Context, Any], drop_id: relay.GlobalID, lines: list[OrderLineInput],
        idempotency_key: str, shipping_address: ShippingAddressInput,
    ) -> OrderPayload:
        ctx = info.context
        try:
            did = decode_id(drop_id, "Drop", "dropId")
            if len(lines) > service.MAX_LINES:
                raise ValidationFailed(f"An order has 1 to {service.MAX_LINES} lines.",
                                       field="lines")
            parsed = [(_variant_id(x.variant_id), x.quantity) for x in lines]
            a = shipping_address
            order = await service.place_preorder(
                ctx.unit_of_work, ctx.sessionmaker, ctx.services.reservations,
                ctx.authenticated_actor(), did, parsed, idempotency_key,
                service.Address(a.name, a.phone, a.region, a.detail))
        except DomainError as error:
            return OrderPayload(errors=[UserError.from_domain(error)])
        return OrderPayload(order=Order.from_model(order))

    @strawberry.mutation(description="Mark your shipped order delivered.")
    async def confirm_delivery(self, info: Info[Context, Any],
                               order_id: relay.GlobalID) -> OrderPayload:
        ctx = info.context

        async def work(session: Any) -> Order:
            oid = decode_id(order_id, "Order", "orderId")
            return Order.from_model(await service.confirm_delivery(
                session, ctx.authenticated_actor(), oid))

        return _order(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="Cancel your order while the drop sells: capacity goes "
                         "back, a payment is refunded.")
    async def cancel_order(self, info: Info[Context, Any], order_id: relay.GlobalID) -> OrderPayload:
        ctx = info.context

        async def work(session: Any) -> Order:
            oid = decode_id(order_id, "Order", "orderId")
            o = await service.cancel_order(session, ctx.services.reservations,
                                           ctx.authenticated_actor(), oid)
            return Order.from_model(o)

        return _order(await in_unit_of_work(ctx, work))
