from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.referrals import models
from domain.referrals.service import Account
from schema.common import Money
from schema.errors import UserError

RewardKind = models.RewardKind
strawberry.enum(
    models.RewardKind,
    name="RewardKind",
    description="EARNED (a referred order paid in a drop that succeeded), REVERSED (pro rata "
    "when that order was refunded), PAID_OUT (an operator paid part of the balance).",
)


@strawberry.type(description="A line of the append-only rewards ledger.")
class RewardEntry:
    id: strawberry.ID
    kind: RewardKind
    amount: Money
    order_id: relay.GlobalID | None
    drop_id: relay.GlobalID | None
    created_at: datetime

    @classmethod
    def from_model(cls, e: models.RewardEntry) -> RewardEntry:
        return cls(
            id=strawberry.ID(str(e.id)),
            kind=e.kind,
            amount=Money(amount_fen=e.amount_fen, currency=e.currency),
            order_id=relay.GlobalID("Order", str(e.order_id)) if e.order_id else None,
            drop_id=relay.GlobalID("Drop", str(e.drop_id)) if e.drop_id else None,
            created_at=e.created_at,
        )


@strawberry.type(description="A member's referral rewards: sums over the ledger.")
class ReferralAccount:
    user_id: relay.GlobalID
    referral_code: str | None = strawberry.field(
        description="Your code for the links you share (null on someone else's account)."
    )
    earned: Money
    reversed: Money
    paid_out: Money
    balance: Money = strawberry.field(description="earned - reversed - paid out.")

    @classmethod
    def from_domain(cls, a: Account) -> ReferralAccount:
        def cny(fen: int) -> Money:
            return Money(amount_fen=fen, currency="CNY")

        return cls(
            user_id=relay.GlobalID("User", str(a.user_id)),
            referral_code=a.referral_code,
            earned=cny(a.earned),
            reversed=cny(a.reversed),
            paid_out=cny(a.paid_out),
            balance=cny(a.balance),
        )


@strawberry.type(description="What others may see of a member in referral views.")
class ReferralMember:
    id: relay.GlobalID
    display_name: str
    avatar_url: str | None

    @classmethod
    def of(cls, user_id: int, name: str, avatar: str | None) -> ReferralMember:
        return cls(id=relay.GlobalID("User", str(user_id)), display_name=name, avatar_url=avatar)


@strawberry.type(description="A member who brought buyers to a drop.")
class DropReferrer:
    referrer: ReferralMember
    buyers: int
    units: int
    rewards: Money = strawberry.field(description="Earned minus reversed, for this drop.")

    @classmethod
    def from_row(cls, r: Any, currency: str = "CNY") -> DropReferrer:
        return cls(
            referrer=ReferralMember.of(r.referrer, r.display_name, r.avatar_url),
            buyers=int(r.buyers),
            units=int(r.units),
            rewards=Money(amount_fen=int(r.rewards), currency=currency),
        )


@strawberry.type(description="A member of a community's referral tree and how many they brought.")
class ReferralNode:
    member: ReferralMember
    joined_at: datetime
    invitees: int

    @classmethod
    def from_row(cls, r: Any) -> ReferralNode:
        return cls(
            member=ReferralMember.of(r.user_id, r.display_name, r.avatar_url),
            joined_at=r.joined_at,
            invitees=int(r.invitees),
        )


@strawberry.type
class ReferralPayload:
    referrer_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Who brought you to this drop (the first touch stands)."
    )
    recorded: bool = strawberry.field(
        default=False, description="Whether this link was the first touch."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PayoutPayload:
    entry: RewardEntry | None = None
    account: ReferralAccount | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
