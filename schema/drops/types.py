from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.base import utcnow
from domain.drops import models, orders, teams, visibility
from domain.drops import progress as drop_progress
from domain.drops.storage import UploadTarget
from domain.production import drop_production
from schema.common import Money, selects
from schema.context import Context
from schema.errors import UserError
from schema.ids import node_pks
from schema.loaders import loader
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size
from schema.payments.types import LedgerEntry, order_ledger
from schema.production.samples import Sample

DropStatus = models.DropStatus
strawberry.enum(models.DropStatus, name="DropStatus")  # registers the domain enum with GraphQL
PaymentMode = models.PaymentMode
strawberry.enum(models.PaymentMode, name="PaymentMode")  # registers the domain enum with GraphQL
OrderStatus = models.OrderStatus
strawberry.enum(models.OrderStatus, name="OrderStatus")  # registers the domain enum with GraphQL
MediaKind = models.MediaKind
strawberry.enum(models.MediaKind, name="MediaKind")  # registers the domain enum with GraphQL
UploadStatus = models.UploadStatus
strawberry.enum(
    models.UploadStatus,
    name="UploadStatus",
    description="PENDING: waiting for the bytes and completion; READY: checked and published; "
    "EXPIRED: never completed, and what arrived was deleted a day after the link expired.",
)
PollVote = models.PollVote
strawberry.enum(
    models.PollVote,
    name="PollVote",
    description="How an order's buyer had voted, when ordering, in the poll its drop came from: "
    "FOR_OPTION (for this style), OTHER_OPTION, DID_NOT_VOTE.",
)
TeamStatus = models.TeamStatus
strawberry.enum(
    models.TeamStatus,
    name="TeamStatus",
    description="OPEN: seats to fill; FULL: every seat paid (the team price applies, never "
    "open again); FAILED: the deadline came first (the team's policy applied).",
)
TeamPolicy = models.TeamPolicy
strawberry.enum(
    models.TeamPolicy,
    name="TeamPolicy",
    description="What becomes of a team's orders when it does not fill in time: REFUND "
    "(cancelled and refunded) or KEEP_AT_DROP_PRICE (kept as ordinary pre-orders).",
)


@strawberry.type
class PriceTier:
    min_quantity: int
    price: Money


@strawberry.type
class DropVariant(relay.Node):
    id: relay.NodeID[int]
    size: str
    color: str
    cap: int | None

    @classmethod
    def from_model(cls, v: models.DropVariant) -> DropVariant:
        return cls(id=v.id, size=v.size, color=v.color, cap=v.cap)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[DropVariant | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await visibility.visible_variants(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type
class VariantDemand:
    variant: DropVariant
    quantity: int
    remaining: int | None = strawberry.field(description="Left under the variant's own cap.")


@strawberry.type
class GroupDemand:
    value: str
    quantity: int


@strawberry.type(description="Live progress of a drop, served from Redis.")
class DropProgress:
    total_quantity: int
    buyers: int
    remaining: int = strawberry.field(description="Units left under the drop's cap.")
    moq_percent: float
    current_price: Money = strawberry.field(description="The tier price at today's quantity.")
    next_tier: PriceTier | None
    seconds_left: int
    # The counters behind the demand lists, which are built only when a client asks for them
    # (a polled drop page does not: building 2 objects per variant cost ~8 % of its CPU).
    source: strawberry.Private[drop_progress.DropProgress]

    @strawberry.field
    def per_variant(self) -> list[VariantDemand]:
        p = self.source
        out = []
        for var in p.variants:
            q = p.per_variant.get(var.id, 0)
            out.append(
                VariantDemand(
                    variant=DropVariant.from_model(var),
                    quantity=q,
                    remaining=None if var.cap is None else max(0, var.cap - q),
                )
            )
        return out

    @strawberry.field
    def per_size(self) -> list[GroupDemand]:
        return self._grouped("size")

    @strawberry.field
    def per_color(self) -> list[GroupDemand]:
        return self._grouped("color")

    def _grouped(self, attribute: str) -> list[GroupDemand]:
        p = self.source
        totals: dict[str, int] = {}
        for var in p.variants:
            key = getattr(var, attribute)
            totals[key] = totals.get(key, 0) + p.per_variant.get(var.id, 0)
        return [GroupDemand(value=k, quantity=q) for k, q in totals.items()]

    @classmethod
    def from_domain(cls, p: drop_progress.DropProgress) -> DropProgress:
        d = p.drop
        nt = p.next_tier
        return cls(
            total_quantity=p.reserved,
            buyers=p.buyers,
            remaining=max(0, d.cap - p.reserved),
            moq_percent=round(100.0 * p.reserved / d.moq, 1),
            current_price=Money(amount_fen=p.current_price, currency=d.currency),
            next_tier=PriceTier(
                min_quantity=nt["min_quantity"],
                price=Money(amount_fen=nt["price_fen"], currency=d.currency),
            )
            if nt
            else None,
            seconds_left=max(0, int((d.closes_at - utcnow()).total_seconds())),
            source=p,
        )


@strawberry.type(description="A drop's group-buy teams: size, team price, time limit, policy.")
class TeamSettings:
    size: int
    price: Money
    hours: int = strawberry.field(description="Time to fill, never past the drop's close.")
    policy: TeamPolicy


@strawberry.type(description="A try-on photo or video of a drop, in the KOC's order.")
class TryOnMedia:
    kind: MediaKind
    url: str
    caption: str


@strawberry.type(description="A header the upload request must carry.")
class HttpHeader:
    name: str
    value: str


@strawberry.type(
    description="A try-on photo or video being uploaded: PUT the file's bytes to `uploadUrl` "
    "(with `uploadHeaders`) before `expiresAt`, then call `completeMediaUpload`; once READY, "
    "pass its id to `setTryOnMedia`. The type is read from the file's bytes, not from what the "
    "client says."
)
class MediaUpload:
    id: relay.GlobalID
    kind: MediaKind
    status: UploadStatus
    upload_url: str | None = strawberry.field(
        description="Where to PUT the bytes (absent once READY). May be relative to the API's "
        "origin when the server runs without C2M_PUBLIC_URL."
    )
    upload_method: str
    upload_headers: list[HttpHeader]
    max_bytes: int
    expires_at: datetime
    content_type: str | None = strawberry.field(description="As read from the bytes.")
    size_bytes: int | None
    url: str | None = strawberry.field(description="Where the published file is served.")

    @classmethod
    def from_model(cls, m: models.MediaUpload, target: UploadTarget | None = None) -> MediaUpload:
        return cls(
            id=relay.GlobalID("MediaUpload", str(m.id)),
            kind=m.kind,
            status=m.status,
            upload_url=target.url if target else None,
            upload_method=target.method if target else "PUT",
            upload_headers=[HttpHeader(name=k, value=v) for k, v in (target.headers or {}).items()]
            if target
            else [],
            max_bytes=m.max_bytes,
            expires_at=m.expires_at,
            content_type=m.content_type,
            size_bytes=m.size_bytes,
            url=m.url,
        )


@strawberry.type
class MediaUploadPayload:
    upload: MediaUpload | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="What the member who brought a buyer earns per paid order.")
class ReferralReward:
    fixed: Money | None
    basis_points: int | None = strawberry.field(description="1/100 % of what the order costs.")


@strawberry.type(description="What other members see of a team's leader.")
class TeamLeader:
    display_name: str
    avatar_url: str | None


@strawberry.type(
    description="A group-buy team (拼团): a seat is a pending or paid order of the team; the "
    "team is FULL when every seat is paid. Public fields only: never addresses."
)
class Team(relay.Node):
    id: relay.NodeID[int]
    drop_id: relay.GlobalID
    share_token: str = strawberry.field(description="Pass to joinTeam; put it in the link.")
    status: TeamStatus
    size: int
    seats_taken: int = strawberry.field(description="Pending or paid seats.")
    seats_paid: int
    seats_left: int
    price: Money = strawberry.field(description="The team price per unit.")
    policy: TeamPolicy
    deadline: datetime
    filled_at: datetime | None
    leader: TeamLeader
    drop_pk: strawberry.Private[int]

    @strawberry.field(description="The drop this team buys in.")
    async def drop(self, info: Info[Context, Any]) -> Drop:
        return Drop.from_model(await loader(info.context, "drop").load(self.drop_pk))

    @classmethod
    def from_view(cls, v: teams.TeamView) -> Team:
        t = v.team
        return cls(
            id=t.id,
            drop_id=relay.GlobalID("Drop", str(t.drop_id)),
            share_token=t.share_token,
            status=t.status,
            size=t.size,
            seats_taken=v.taken,
            seats_paid=v.paid,
            seats_left=v.left,
            price=Money(amount_fen=t.price_fen, currency=t.currency),
            policy=t.policy,
            deadline=t.deadline,
            filled_at=t.filled_at,
            leader=TeamLeader(display_name=v.leader_name, avatar_url=v.leader_avatar),
            drop_pk=t.drop_id,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Team | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await teams.visible_teams(session, ctx.actor, [p for p in pks if p])
        return [cls.from_view(found[p]) if p in found else None for p in pks]


@strawberry.type
class Drop(relay.Node):
    id: relay.NodeID[int]
    title: str
    description: str
    image_urls: list[str]
    size_chart: str
    status: DropStatus
    price: Money
    tiers: list[PriceTier]
    payment_mode: PaymentMode
    deposit: Money | None
    moq: int
    cap: int
    per_member_limit: int
    opens_at: datetime
    closes_at: datetime
    ship_from: date | None
    ship_until: date | None
    poll_option_id: relay.GlobalID | None
    final_price: Money | None = strawberry.field(
        description="Set at settlement: the tier price everyone pays."
    )
    paid_quantity: int | None = None
    teams: TeamSettings | None = strawberry.field(
        default=None, description="Group-buy teams, when the drop has them."
    )
    referral_reward: ReferralReward | None = strawberry.field(
        default=None, description="The referrer's reward, when the drop has one."
    )
    voter_head_start_minutes: int = strawberry.field(
        default=0, description="The poll option's voters may pre-order this early."
    )
    early_opens_at: datetime | None = strawberry.field(
        default=None, description="When the voters' head start begins (null without one)."
    )
    # The row this object was built from: every Drop the schema hands out was obtained through
    # the domain's visibility or ownership checks for this request's actor.
    model: strawberry.Private[models.Drop | None] = None
    # Its progress when it was read together with the visibility (a drop page by id).
    seen_progress: strawberry.Private[drop_progress.DropProgress | None] = None

    @classmethod
    def from_model(cls, d: models.Drop) -> Drop:
        def money(fen: int) -> Money:
            return Money(amount_fen=fen, currency=d.currency)

        return cls(
            id=d.id,
            title=d.title,
            description=d.description,
            image_urls=list(d.image_urls),
            size_chart=d.size_chart,
            status=d.status,
            price=money(d.price_fen),
            tiers=[
                PriceTier(min_quantity=t["min_quantity"], price=money(t["price_fen"]))
                for t in d.tiers
            ],
            payment_mode=d.payment_mode,
            deposit=money(d.deposit_fen) if d.deposit_fen is not None else None,
            moq=d.moq,
            cap=d.cap,
            per_member_limit=d.per_member_limit,
            opens_at=d.opens_at,
            closes_at=d.closes_at,
            ship_from=d.ship_from,
            ship_until=d.ship_until,
            poll_option_id=relay.GlobalID("PollOption", str(d.poll_option_id))
            if d.poll_option_id
            else None,
            final_price=money(d.final_price_fen) if d.final_price_fen is not None else None,
            paid_quantity=d.paid_quantity,
            teams=TeamSettings(
                size=d.team_size,
                price=money(d.team_price_fen),
                hours=d.team_hours or 24,
                policy=d.team_policy,
            )
            if d.team_size and d.team_price_fen and d.team_policy
            else None,
            referral_reward=ReferralReward(
                fixed=money(d.referral_fixed_fen) if d.referral_fixed_fen else None,
                basis_points=d.referral_basis_points,
            )
            if d.referral_fixed_fen or d.referral_basis_points
            else None,
            voter_head_start_minutes=d.voter_head_start_minutes or 0,
            early_opens_at=d.early_opens_at if d.voter_head_start_minutes else None,
            model=d,
        )

    @strawberry.field
    async def variants(self, info: Info[Context, Any]) -> list[DropVariant]:
        rows = await loader(info.context, "drop_variants").load(self.id)
        return [DropVariant.from_model(v) for v in rows]

    @strawberry.field(
        description="Live totals: quantity, buyers, demand per size and colour, "
        "tier price, MOQ progress, remaining cap, time left."
    )
    async def progress(self, info: Info[Context, Any]) -> DropProgress:
        if self.seen_progress is not None:
            return DropProgress.from_domain(self.seen_progress)
        ctx = info.context
        async with ctx.read_session() as session:
            if self.model is not None:  # seen by this actor in this request: not checked again
                p = await drop_progress.progress_of_seen(
                    session,
                    ctx.sessionmaker,
                    ctx.services.reservations,
                    self.model,
                    ctx.services.published_variants,
                )
            else:
                p = await drop_progress.progress(
                    session,
                    ctx.sessionmaker,
                    ctx.services.reservations,
                    ctx.authenticated_actor(),
                    self.id,
                    ctx.services.published_variants,
                )
        return DropProgress.from_domain(p)

    @strawberry.field(description="Try-on photos and videos, in order.")
    async def try_on_media(self, info: Info[Context, Any]) -> list[TryOnMedia]:
        rows = await loader(info.context, "drop_media").load(self.id)
        return [TryOnMedia(kind=m.kind, url=m.url, caption=m.caption) for m in rows]

    @strawberry.field(description="The sample made before the drop was published, if any.")
    async def sample(self, info: Info[Context, Any]) -> Sample | None:
        rows = await loader(info.context, "drop_samples").load(self.id)
        return Sample.from_model(rows[0]) if rows else None

    @strawberry.field(
        description="Open teams that still need members, fullest first: join a stranger's team."
    )
    async def open_teams(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Connection[Team]:
        ctx = info.context
        limit = page_size(first)
        offset = decode_int_cursor("open-team", after)
        async with ctx.read_session() as session:
            rows = await teams.open_teams_of(
                session, ctx.authenticated_actor(), self.id, offset, limit + 1
            )
        return build_connection(
            list(enumerate(rows, start=offset + 1)),
            limit,
            "open-team",
            lambda r: r[0],
            lambda r: Team.from_view(r[1]),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Drop | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        if len(pks) == 1 and pks[0] and selects(info, "progress"):  # a drop page
            async with ctx.read_session() as session:
                p = await drop_progress.visible_with_progress(
                    session,
                    ctx.sessionmaker,
                    ctx.services.reservations,
                    ctx.actor,
                    pks[0],
                    ctx.services.published_variants,
                )
            if p is None:
                return [None]
            drop = cls.from_model(p.drop)
            drop.seen_progress = p
            return [drop]
        async with ctx.read_session() as session:
            found = await visibility.visible_drops(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type
class OrderLine:
    variant_id: relay.GlobalID
    quantity: int
    variant_pk: strawberry.Private[int]

    @strawberry.field(description="The size and colour ordered (one statement per request).")
    async def variant(self, info: Info[Context, Any]) -> DropVariant:
        row = await loader(info.context, "variant").load(self.variant_pk)
        return DropVariant.from_model(row)


@strawberry.type
class ShippingAddress:
    name: str
    phone: str
    region: str
    detail: str


@strawberry.type
class Order(relay.Node):
    id: relay.NodeID[int]
    drop_id: relay.GlobalID
    team_id: relay.GlobalID | None = strawberry.field(
        description="The group-buy team whose seat this order takes."
    )
    poll_vote: PollVote | None = strawberry.field(
        description="How the buyer had voted in the drop's poll (null: the drop came from no poll)."
    )
    status: OrderStatus
    quantity: int
    unit_price: Money
    amount_due: Money = strawberry.field(
        description="What this payment step asks for: the "
        "deposit or the full price, times the quantity."
    )
    expires_at: datetime | None
    paid_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    row: strawberry.Private[models.Order]

    @classmethod
    def from_model(cls, o: models.Order) -> Order:
        return cls(
            id=o.id,
            drop_id=relay.GlobalID("Drop", str(o.drop_id)),
            team_id=relay.GlobalID("Team", str(o.team_id)) if o.team_id else None,
            poll_vote=o.poll_vote,
            status=o.status,
            quantity=o.quantity,
            unit_price=Money(amount_fen=o.unit_price_fen, currency=o.currency),
            amount_due=Money(amount_fen=o.amount_due_fen, currency=o.currency),
            expires_at=o.expires_at,
            paid_at=o.paid_at,
            cancelled_at=o.cancelled_at,
            created_at=o.created_at,
            row=o,
        )

    @strawberry.field
    async def lines(self, info: Info[Context, Any]) -> list[OrderLine]:
        rows = await loader(info.context, "order_lines").load(self.id)
        return [
            OrderLine(
                variant_id=relay.GlobalID("DropVariant", str(r.variant_id)),
                quantity=r.quantity,
                variant_pk=r.variant_id,
            )
            for r in sorted(rows, key=lambda r: r.variant_id)
        ]

    @strawberry.field(description="The drop this order was placed in.")
    async def drop(self, info: Info[Context, Any]) -> Drop:
        return Drop.from_model(await loader(info.context, "drop").load(self.row.drop_id))

    @strawberry.field(description="Payments and refunds of this order (its member only).")
    async def ledger(self, info: Info[Context, Any]) -> list[LedgerEntry]:
        return await order_ledger(info, self.id)

    @strawberry.field(
        description="Carrier and tracking number of each shipment of this order (its member only)."
    )
    async def tracking(self, info: Info[Context, Any]) -> list[str]:
        async with info.context.read_session() as session:
            found = await drop_production.tracking_of(session, info.context.actor, self.row)
        return [f"{c} {t}" for c, t in found]

    @strawberry.field(
        description="Balance (尾款) deadline of a deposit order after the drop "
        "succeeded; pay it with payOrder."
    )
    def balance_due_at(self) -> datetime | None:
        return self.row.balance_due_at

    @strawberry.field(description="Only the member who placed the order sees it.")
    def shipping_address(self, info: Info[Context, Any]) -> ShippingAddress | None:
        if not orders.is_own(info.context.actor, self.row):
            return None
        return ShippingAddress(**self.row.shipping_address)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Order | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        if ctx.actor.user_id is None:
            return [None for _ in pks]
        async with ctx.read_session() as session:
            found = await orders.visible_orders(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type
class DropPayload:
    drop: Drop | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPayload:
    order: Order | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TeamPayload:
    team: Team | None = None
    order: Order | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
