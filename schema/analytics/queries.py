from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.analytics import figures
from schema.common import Money
from schema.context import Context
from schema.ids import decode_id


@strawberry.type(description="A group of members and how many of them pre-ordered.")
class Conversion:
    members: int
    buyers: int
    rate: float | None = strawberry.field(description="buyers / members; null with no members.")

    @classmethod
    def from_domain(cls, c: figures.Conversion) -> Conversion:
        return cls(members=c.members, buyers=c.buyers, rate=c.rate)


@strawberry.type(
    description="One option of a poll: its voters and the audience members who did not vote "
    "for it, and how many of each pre-ordered the style that came out of it."
)
class OptionAnalytics:
    option_id: relay.GlobalID
    title: str
    final_rank: int | None
    advanced: bool
    drops: int = strawberry.field(description="Drops published from this option.")
    voters: Conversion
    non_voters: Conversion


@strawberry.type(description="A poll's conversion figures, exact, from PostgreSQL.")
class PollAnalytics:
    poll_id: relay.GlobalID
    voters: int
    audience: int = strawberry.field(description="Active members of the poll's communities.")
    options: list[OptionAnalytics]


@strawberry.type(description="What a drop sold, exact, from PostgreSQL (docs/api.md).")
class DropAnalytics:
    drop_id: relay.GlobalID
    buyers: int = strawberry.field(description="Members whose orders hold money.")
    units: int
    gmv: Money = strawberry.field(description="What its orders hold: paid minus refunded.")
    refunds: Money
    refunded_orders: int
    audience: int = strawberry.field(description="Active members of the drop's communities.")
    arpu: Money | None = strawberry.field(description="GMV per audience member.")
    arppu: Money | None = strawberry.field(description="GMV per buyer.")
    teams_opened: int
    teams_filled: int
    team_fill_rate: float | None
    referred_buyers: int = strawberry.field(
        description="Buyers invited into one of the drop's communities by a member."
    )
    referred_gmv: Money
    referred_gmv_share: float | None
    buyers_who_voted_for_it: int = strawberry.field(
        description="Buyers whose ballot picked the drop's poll option when they ordered."
    )
    buyers_who_voted_other: int
    buyers_who_did_not_vote: int

    @classmethod
    def from_domain(cls, f: figures.DropFigures) -> DropAnalytics:
        def money(fen: int | None) -> Money | None:
            return None if fen is None else Money(amount_fen=fen, currency=f.currency)

        return cls(
            drop_id=relay.GlobalID("Drop", str(f.drop_id)),
            buyers=f.buyers,
            units=f.units,
            gmv=Money(amount_fen=f.gmv_fen, currency=f.currency),
            refunds=Money(amount_fen=f.refunded_fen, currency=f.currency),
            refunded_orders=f.refunded_orders,
            audience=f.audience,
            arpu=money(f.arpu_fen),
            arppu=money(f.arppu_fen),
            teams_opened=f.teams,
            teams_filled=f.full_teams,
            team_fill_rate=f.team_fill_rate,
            referred_buyers=f.referred_buyers,
            referred_gmv=Money(amount_fen=f.referred_gmv_fen, currency=f.currency),
            referred_gmv_share=f.referred_gmv_share,
            buyers_who_voted_for_it=f.buyers_for_option,
            buyers_who_voted_other=f.buyers_other_option,
            buyers_who_did_not_vote=f.buyers_did_not_vote,
        )


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description="A poll's conversion per option: voters who pre-ordered the style of their "
        "option against the audience members who did not vote for it (its KOC, operators)."
    )
    async def poll_analytics(
        self, info: Info[Context, Any], poll_id: relay.GlobalID
    ) -> PollAnalytics:
        ctx = info.context
        pid = decode_id(poll_id, "Poll", "pollId")
        async with ctx.read_session() as session:
            f = await figures.poll_figures(session, ctx.authenticated_actor(), pid)
        return PollAnalytics(
            poll_id=relay.GlobalID("Poll", str(f.poll_id)),
            voters=f.voters,
            audience=f.audience,
            options=[
                OptionAnalytics(
                    option_id=relay.GlobalID("PollOption", str(o.option_id)),
                    title=o.title,
                    final_rank=o.final_rank,
                    advanced=o.advanced,
                    drops=o.drops,
                    voters=Conversion.from_domain(o.voters),
                    non_voters=Conversion.from_domain(o.non_voters),
                )
                for o in f.options
            ],
        )

    @strawberry.field(
        description="A drop's buyers, units, GMV, refunds, ARPU, ARPPU, team fill rate and "
        "referred buyers (its KOC, operators)."
    )
    async def drop_analytics(
        self, info: Info[Context, Any], drop_id: relay.GlobalID
    ) -> DropAnalytics:
        ctx = info.context
        did = decode_id(drop_id, "Drop", "dropId")
        async with ctx.read_session() as session:
            f = await figures.drop_figures(session, ctx.authenticated_actor(), did)
        return DropAnalytics.from_domain(f)
