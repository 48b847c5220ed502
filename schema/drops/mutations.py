from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.drops import inputs, lifecycle, orders, preorders, settlement, teams, uploads
from domain.drops import media as drop_media
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.identity.actor import Actor
from schema.context import Context
from schema.drops.types import (
    Drop,
    DropPayload,
    MediaKind,
    MediaUpload,
    MediaUploadPayload,
    Order,
    OrderPayload,
    PaymentMode,
    Team,
    TeamPayload,
    TeamPolicy,
)
from schema.errors import UserError, mutate
from schema.ids import decode_id, decode_ids


@strawberry.input
class DropVariantInput:
    size: str
    color: str
    cap: int | None = None


@strawberry.input
class PriceTierInput:
    min_quantity: int
    price_fen: int


@strawberry.input(description="Group-buy teams on a drop (editable while it is a draft).")
class TeamsInput:
    size: int = strawberry.field(description="Members per team, 2 to 50.")
    price_fen: int = strawberry.field(description="The team price, below the drop's price.")
    hours: int = strawberry.field(
        default=24, description="Time to fill, 1 to 168 hours (never past the drop's close)."
    )
    policy: TeamPolicy = TeamPolicy.REFUND


@strawberry.input(
    description="The reward of the member who brought a buyer, per paid order of a drop that "
    "succeeds: a fixed amount (fixedFen, up to the drop's price) or basisPoints (1/100 %, 1 to "
    "5000) of what the order finally costs. Exactly one."
)
class ReferralRewardInput:
    fixed_fen: int | None = None
    basis_points: int | None = None


@strawberry.input
class DropInput:
    title: str
    community_ids: list[relay.GlobalID]
    variants: list[DropVariantInput]
    price_fen: int
    payment_mode: PaymentMode
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
    teams: TeamsInput | None = None
    referral_reward: ReferralRewardInput | None = None
    voter_head_start_minutes: int = strawberry.field(
        default=0,
        description="The voters of pollOptionId may pre-order this many minutes (0 to 1440) "
        "before opensAt; everyone else from opensAt.",
    )

    def to_domain(self) -> inputs.DropInput:
        return inputs.DropInput(
            title=self.title,
            community_ids=decode_ids(self.community_ids, "Community", "communityIds"),
            variants=[inputs.VariantInput(v.size, v.color, v.cap) for v in self.variants],
            price_fen=self.price_fen,
            payment_mode=self.payment_mode,
            moq=self.moq,
            cap=self.cap,
            per_member_limit=self.per_member_limit,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            description=self.description,
            image_urls=list(self.image_urls),
            size_chart=self.size_chart,
            tiers=[inputs.TierInput(t.min_quantity, t.price_fen) for t in self.tiers],
            deposit_fen=self.deposit_fen,
            ship_from=self.ship_from,
            ship_until=self.ship_until,
            poll_option_id=decode_id(self.poll_option_id, "PollOption", "pollOptionId")
            if self.poll_option_id
            else None,
            unpaid_expiry_minutes=self.unpaid_expiry_minutes,
            keep_deposit_on_default=self.keep_deposit_on_default,
            teams=inputs.TeamsInput(
                self.teams.size, self.teams.price_fen, self.teams.hours, self.teams.policy
            )
            if self.teams
            else None,
            referral_reward=inputs.ReferralRewardInput(
                self.referral_reward.fixed_fen, self.referral_reward.basis_points
            )
            if self.referral_reward
            else None,
            voter_head_start_minutes=self.voter_head_start_minutes,
        )


@strawberry.input(description="A photo or video: an https URL, or a READY upload's id.")
class TryOnMediaInput:
    kind: MediaKind
    url: str | None = None
    upload_id: relay.GlobalID | None = None
    caption: str = ""


@strawberry.input
class MediaUploadInput:
    drop_id: relay.GlobalID
    kind: MediaKind
    size_bytes: int = strawberry.field(
        description="The file's size; over the limit for its kind is MEDIA_TOO_LARGE."
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


UNKNOWN_VARIANT = ValidationFailed(
    "A variant does not belong to this drop.", field="lines", code=ErrorCode.UNKNOWN_VARIANT
)


def _drop_id(gid: relay.GlobalID) -> int:
    return decode_id(gid, "Drop", "dropId")


def _order_id(gid: relay.GlobalID) -> int:
    return decode_id(gid, "Order", "orderId")


@strawberry.type
class DropMutation:
    @strawberry.mutation(
        description="KOCs: create a draft pre-sale drop. A retry with the same "
        "idempotencyKey and input returns the same drop; other input under "
        "that key is IDEMPOTENCY_KEY_REUSED."
    )
    async def create_drop(
        self, info: Info[Context, Any], input: DropInput, idempotency_key: str | None = None
    ) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            d = await lifecycle.create_drop(session, actor, input.to_domain(), idempotency_key)
            return DropPayload(drop=Drop.from_model(d))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(description="KOCs: replace a draft drop's fields and variants.")
    async def update_drop(
        self, info: Info[Context, Any], drop_id: relay.GlobalID, input: DropInput
    ) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            d = await lifecycle.update_drop(session, actor, _drop_id(drop_id), input.to_domain())
            return DropPayload(drop=Drop.from_model(d))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(
        description="KOCs: publish a draft (SCHEDULED, or OPEN if opensAt "
        "has come). Voters of its poll option are notified when it opens."
    )
    async def publish_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            d = await lifecycle.publish_drop(session, actor, _drop_id(drop_id))
            return DropPayload(drop=Drop.from_model(d))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(description="KOCs: close a drop early; settlement follows.")
    async def close_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            d = await lifecycle.close_drop(session, actor, _drop_id(drop_id))
            return DropPayload(drop=Drop.from_model(d))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(
        description="KOCs/operators: settle a closed drop now (the worker does "
        "it anyway). Settling twice changes nothing; an open drop is an error."
    )
    async def settle_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            done = await settlement.settle_drop_as(session, actor, _drop_id(drop_id))
            return DropPayload(drop=Drop.from_model(done.drop))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(
        description="KOCs: cancel a drop before settlement; every order is "
        "cancelled and every payment refunded."
    )
    async def cancel_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            d = await lifecycle.cancel_drop(session, actor, _drop_id(drop_id))
            return DropPayload(drop=Drop.from_model(d))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(
        description="Pre-order. Retrying with the same idempotencyKey and the "
        "same lines returns the same order; other lines with that key are "
        "IDEMPOTENCY_KEY_REUSED. Capacity is reserved at once; pay before "
        "expiresAt."
    )
    async def place_preorder(
        self,
        info: Info[Context, Any],
        drop_id: relay.GlobalID,
        lines: list[OrderLineInput],
        idempotency_key: str,
        shipping_address: ShippingAddressInput,
    ) -> OrderPayload:
        # Not through ``mutate``: placing an order runs its own transactions (a group commit
        # shared with the requests that arrive together; a reservation in Redis between the
        # insert and the commit; retries after a rebuild).
        ctx = info.context
        try:
            parsed = [
                (
                    decode_id(x.variant_id, "DropVariant", "lines", unknown=UNKNOWN_VARIANT),
                    x.quantity,
                )
                for x in lines
            ]
            a = shipping_address
            order = await preorders.preorder(
                ctx.services.preorders,
                ctx.authenticated_actor(),
                _drop_id(drop_id),
                parsed,
                idempotency_key,
                inputs.Address(a.name, a.phone, a.region, a.detail),
            )
        except DomainError as error:
            return OrderPayload(errors=[UserError.from_domain(error)])
        return OrderPayload(order=Order.from_model(order))

    @strawberry.mutation(
        description="Open a group-buy team: your pre-order exactly as placePreorder (same cap, "
        "limits and idempotency), which also takes the team's first seat. Share the team's "
        "shareToken; the team price applies once every seat is paid before the deadline."
    )
    async def open_team(
        self,
        info: Info[Context, Any],
        drop_id: relay.GlobalID,
        lines: list[OrderLineInput],
        idempotency_key: str,
        shipping_address: ShippingAddressInput,
    ) -> TeamPayload:
        ctx = info.context
        try:
            placed = await teams.open_team(
                ctx.services.unit_of_work,
                ctx.sessionmaker,
                ctx.services.reservations,
                ctx.authenticated_actor(),
                _drop_id(drop_id),
                _lines(lines),
                idempotency_key,
                _address(shipping_address),
                reads=ctx.services.read_sessionmaker,
            )
        except DomainError as error:
            return TeamPayload(errors=[UserError.from_domain(error)])
        return _team_payload(placed)

    @strawberry.mutation(
        description="Join a group-buy team by its share token: a pre-order inside that team "
        "(TEAM_FULL when every seat is taken: open a team of your own). dropId, when given, "
        "must be the team's drop."
    )
    async def join_team(
        self,
        info: Info[Context, Any],
        share_token: str,
        lines: list[OrderLineInput],
        idempotency_key: str,
        shipping_address: ShippingAddressInput,
        drop_id: relay.GlobalID | None = None,
    ) -> TeamPayload:
        ctx = info.context
        try:
            placed = await teams.join_team(
                ctx.services.unit_of_work,
                ctx.sessionmaker,
                ctx.services.reservations,
                ctx.authenticated_actor(),
                share_token,
                _lines(lines),
                idempotency_key,
                _address(shipping_address),
                _drop_id(drop_id) if drop_id is not None else None,
                reads=ctx.services.read_sessionmaker,
            )
        except DomainError as error:
            return TeamPayload(errors=[UserError.from_domain(error)])
        return _team_payload(placed)

    @strawberry.mutation(
        description="KOCs: set a draft drop's try-on photos and videos (https URLs or READY "
        "uploads, in order, up to 20; the list is replaced)."
    )
    async def set_try_on_media(
        self, info: Info[Context, Any], drop_id: relay.GlobalID, media: list[TryOnMediaInput]
    ) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            found = await drop_media.set_try_on_media(
                session,
                actor,
                _drop_id(drop_id),
                [
                    drop_media.MediaInput(
                        m.kind,
                        m.url,
                        m.caption,
                        decode_id(m.upload_id, "MediaUpload", f"media[{i}].uploadId")
                        if m.upload_id is not None
                        else None,
                    )
                    for i, m in enumerate(media)
                ],
            )
            return DropPayload(drop=Drop.from_model(found))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(
        description="KOCs: ask for a URL to upload a draft drop's try-on photo (JPEG, PNG, "
        "WebP) or video (MP4, MOV, WebM) to; then PUT the bytes there and complete it."
    )
    async def create_media_upload(
        self, info: Info[Context, Any], input: MediaUploadInput
    ) -> MediaUploadPayload:
        services = info.context.services

        async def work(session: AsyncSession, actor: Actor) -> MediaUploadPayload:
            made = await uploads.create_upload(
                session,
                actor,
                services.media_store,
                services.media_limits,
                _drop_id(input.drop_id),
                input.kind,
                input.size_bytes,
            )
            return MediaUploadPayload(upload=MediaUpload.from_model(made.upload, made.target))

        return await mutate(info, MediaUploadPayload, work)

    @strawberry.mutation(
        description="KOCs: check an uploaded file (its type read from its bytes, its size) and "
        "publish it. Idempotent: completing a READY upload returns it."
    )
    async def complete_media_upload(
        self, info: Info[Context, Any], upload_id: relay.GlobalID
    ) -> MediaUploadPayload:
        services = info.context.services

        async def work(session: AsyncSession, actor: Actor) -> MediaUploadPayload:
            done = await uploads.complete_upload(
                session,
                actor,
                services.media_store,
                decode_id(upload_id, "MediaUpload", "uploadId"),
            )
            return MediaUploadPayload(upload=MediaUpload.from_model(done))

        return await mutate(info, MediaUploadPayload, work)

    @strawberry.mutation(description="Mark your shipped order delivered.")
    async def confirm_delivery(
        self, info: Info[Context, Any], order_id: relay.GlobalID
    ) -> OrderPayload:
        async def work(session: AsyncSession, actor: Actor) -> OrderPayload:
            o = await orders.confirm_delivery(session, actor, _order_id(order_id))
            return OrderPayload(order=Order.from_model(o))

        return await mutate(info, OrderPayload, work)

    @strawberry.mutation(
        description="Cancel your order while the drop sells: capacity goes "
        "back, a payment is refunded."
    )
    async def cancel_order(
        self, info: Info[Context, Any], order_id: relay.GlobalID
    ) -> OrderPayload:
        async def work(session: AsyncSession, actor: Actor) -> OrderPayload:
            o = await orders.cancel_order(
                session, info.context.services.reservations, actor, _order_id(order_id)
            )
            return OrderPayload(order=Order.from_model(o))

        return await mutate(info, OrderPayload, work)


def _lines(lines: list[OrderLineInput]) -> list[tuple[int, int]]:
    return [
        (decode_id(x.variant_id, "DropVariant", "lines", unknown=UNKNOWN_VARIANT), x.quantity)
        for x in lines
    ]


def _address(a: ShippingAddressInput) -> inputs.Address:
    return inputs.Address(a.name, a.phone, a.region, a.detail)


def _team_payload(placed: teams.Placed) -> TeamPayload:
    return TeamPayload(
        team=Team.from_view(placed.team),
        order=Order.from_model(placed.order),
    )
