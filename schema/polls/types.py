from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.polls import integrity, models, results, visibility, voting
from domain.polls.models import PollStatus as DomainPollStatus
from schema.common import Money
from schema.context import Context
from schema.drops.types import Drop
from schema.errors import UserError
from schema.ids import node_pks
from schema.loaders import loader

PollStatus = DomainPollStatus
strawberry.enum(DomainPollStatus, name="PollStatus")  # registers the domain enum with GraphQL


@strawberry.type
class PollOption(relay.Node):
    id: relay.NodeID[int]
    position: int
    title: str
    image_urls: list[str]
    designer_notes: str
    reference_price: Money | None
    advanced: bool = strawberry.field(description="Among the winners (set when the poll closes).")

    @classmethod
    def from_model(cls, o: models.PollOption) -> PollOption:
        price = (
            Money(amount_fen=o.reference_price_fen, currency=o.currency)
            if o.reference_price_fen is not None
            else None
        )
        return cls(
            id=o.id,
            position=o.position,
            title=o.title,
            image_urls=list(o.image_urls),
            designer_notes=o.designer_notes,
            reference_price=price,
            advanced=o.advanced,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[PollOption | None]:
        ctx = info.context
        out: list[PollOption | None] = []
        async with ctx.read_session() as session:
            for pk in node_pks(node_ids):
                option = await visibility.visible_option(session, ctx.actor, pk) if pk else None
                out.append(cls.from_model(option) if option else None)
        return out


@strawberry.type
class RankedPollOption:
    option: PollOption
    votes: int
    rank: int
    advanced: bool = strawberry.field(
        description="Would advance if the poll closed now (final once closed)."
    )


@strawberry.type
class PollResults:
    poll_id: relay.GlobalID
    status: PollStatus
    final: bool = strawberry.field(
        description="True once the poll closed: counted from the "
        "ballots in PostgreSQL. Live results come from Redis."
    )
    total_voters: int
    options: list[RankedPollOption]

    @classmethod
    def from_domain(cls, r: results.Results) -> PollResults:
        return cls(
            poll_id=relay.GlobalID("Poll", str(r.poll.id)),
            status=r.poll.status,
            final=r.final,
            total_voters=r.total_voters,
            options=[
                RankedPollOption(
                    option=PollOption.from_model(o.option),
                    votes=o.votes,
                    rank=o.rank,
                    advanced=o.advanced,
                )
                for o in r.options
            ],
        )


@strawberry.type
class Poll(relay.Node):
    id: relay.NodeID[int]
    title: str
    description: str
    status: PollStatus
    opens_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    max_choices: int
    advance_count: int
    created_at: datetime
    min_member_age_hours: int = 0
    model: strawberry.Private[models.Poll | None] = None

    @classmethod
    def from_model(cls, p: models.Poll) -> Poll:
        return cls(
            id=p.id,
            title=p.title,
            description=p.description,
            status=p.status,
            opens_at=p.opens_at,
            closes_at=p.closes_at,
            closed_at=p.closed_at,
            max_choices=p.max_choices,
            advance_count=p.advance_count,
            created_at=p.created_at,
            min_member_age_hours=p.min_member_age_hours or 0,
            model=p,
        )

    @strawberry.field
    async def options(self, info: Info[Context, Any]) -> list[PollOption]:
        rows = await loader(info.context, "poll_options").load(self.id)
        return [PollOption.from_model(o) for o in rows]

    @strawberry.field
    async def community_ids(self, info: Info[Context, Any]) -> list[relay.GlobalID]:
        async with info.context.read_session() as session:
            ids = await visibility.community_ids(session, self.id)
        return [relay.GlobalID("Community", str(i)) for i in ids]

    @strawberry.field(description="The viewer's current picks, or null if they have not voted.")
    async def viewer_ballot(self, info: Info[Context, Any]) -> list[relay.GlobalID] | None:
        async with info.context.read_session() as session:
            picks = await voting.my_ballot(session, info.context.actor, self.id)
        return None if picks is None else [relay.GlobalID("PollOption", str(o)) for o in picks]

    @strawberry.field(
        description="The draft drops made from the options that advanced when the poll closed "
        "(its KOC and operators; empty for anyone else). Edit one (updateDrop), then publish."
    )
    async def drafts(self, info: Info[Context, Any]) -> list[Drop]:
        rows = await loader(info.context, "poll_drafts").load(self.id)
        return [Drop.from_model(d) for d in rows]

    @strawberry.field(description="Ranked results: live while open, final once closed.")
    async def results(self, info: Info[Context, Any]) -> PollResults:
        ctx = info.context
        async with ctx.read_session() as session:
            r = await results.results(
                session, ctx.services.live_polls, ctx.authenticated_actor(), self.id
            )
        return PollResults.from_domain(r)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Poll | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await visibility.visible_polls(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type
class PollPayload:
    poll: Poll | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class VotePayload:
    poll_id: relay.GlobalID | None = None
    option_ids: list[relay.GlobalID] | None = None
    changed: bool = strawberry.field(
        default=False, description="False when the same ballot was cast again (nothing changed)."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.enum(
    description="Why a ballot was flagged: NEW_ACCOUNT (the account was made within 24 h "
    "before it), INVITE_BURST (3+ voters brought by the same member who joined within 10 "
    "minutes of each other), IDENTICAL_BURST (3+ identical ballots within 60 s)."
)
class BallotFlag(enum.Enum):
    NEW_ACCOUNT = "NEW_ACCOUNT"
    INVITE_BURST = "INVITE_BURST"
    IDENTICAL_BURST = "IDENTICAL_BURST"


@strawberry.type(description="A ballot the suspicious-vote report flagged, and why.")
class FlaggedBallot:
    user_id: relay.GlobalID
    display_name: str
    avatar_url: str | None
    option_ids: list[relay.GlobalID]
    cast_at: datetime
    voided: bool
    reasons: list[BallotFlag]
    invited_by: relay.GlobalID | None

    @classmethod
    def from_domain(cls, f: integrity.Flagged) -> FlaggedBallot:
        return cls(
            user_id=relay.GlobalID("User", str(f.user_id)),
            display_name=f.display_name,
            avatar_url=f.avatar_url,
            option_ids=[relay.GlobalID("PollOption", str(o)) for o in f.option_ids],
            cast_at=f.cast_at,
            voided=f.voided,
            reasons=[BallotFlag(r) for r in f.reasons],
            invited_by=relay.GlobalID("User", str(f.inviter_id)) if f.inviter_id else None,
        )


@strawberry.type
class BallotsPayload:
    changed: int = strawberry.field(default=0, description="Ballots voided or restored now.")
    errors: list[UserError] = strawberry.field(default_factory=list)
