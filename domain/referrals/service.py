"""Referrals (裂变): who brought a member to a drop, and the rewards of the direct referrer.

Who brought whom. A drop or team link carries the sharer's referral code (``codes.py``); the
mini-program records the touch when a member opens it (``record_referral``), and joining a team
records its leader. First touch wins: the member (not the KOC) who invited the buyer into one of
the drop's communities, else the first link recorded for that drop; later touches change
nothing. A member never refers themself, and a touch that would close a cycle (A brought B, B
brings A) is refused. An order's referrer is its buyer's first touch made before the order.

Rewards. A drop's KOC may set a reward: a fixed amount per paid order, or basis points of what
the order finally costs. It goes to the direct referrer only: the ledger holds one EARNED line
per order at most (a unique index), so a second level cannot exist in the model. It is earned
when the order is fully paid and the drop has succeeded (at settlement, or when a deposit
order's balance is paid), and reversed pro rata when the order is refunded. The ledger is
append-only (a trigger refuses UPDATE and DELETE): EARNED, REVERSED, PAID_OUT; a balance is a
sum over it. Operators mark a payout (a PAID_OUT line, never more than the balance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.community import repository as community_repo
from domain.drops import repository as drop_repo
from domain.drops.visibility import visible_drops
from domain.errors import Conflict, ErrorCode, NotFound, ValidationFailed
from domain.identity import repository as identity_repo
from domain.identity import roles
from domain.identity.actor import Actor
from domain.referrals import repository as repo
from domain.referrals.codes import ReferralCodes
from domain.referrals.models import ReferralSource, RewardEntry, RewardKind

MAX_PAYOUT_FEN = 100_000_000


@dataclass(frozen=True)
class Touch:
    referrer_id: int | None  # who brought the member to the drop (None: nobody yet)
    recorded: bool  # False: the member had a first touch already (it stands), or a KOC's link


@dataclass(frozen=True)
class Account:
    user_id: int
    earned: int
    reversed: int
    paid_out: int
    referral_code: str | None = None  # the member's own account only

    @property
    def balance(self) -> int:
        return self.earned - self.reversed - self.paid_out


async def record_referral(
    session: AsyncSession, codes: ReferralCodes, actor: Actor, drop_id: int, code: str
) -> Touch:
    """The member opened a drop link shared by ``code``'s member: record the first touch."""
    user = await roles.require_user(session, actor)
    drop = (await visible_drops(session, actor, [drop_id])).get(drop_id)
    if drop is None:
        raise NotFound("No such drop.", field="dropId")
    referrer = codes.user_of(code)
    if referrer is None or await identity_repo.get_user(session, referrer) is None:
        raise NotFound("No such referral code.", field="referralCode")
    if referrer == user.id:
        raise ValidationFailed(
            "You cannot refer yourself.", field="referralCode", code=ErrorCode.SELF_REFERRAL
        )
    if referrer == drop.owner_id:  # the KOC's own link, like the KOC's own invite: no referral
        return Touch(await repo.first_touch(session, drop_id, user.id), False)
    if not await visible_drops(session, Actor(user_id=referrer), [drop_id]):
        raise ValidationFailed(
            "The member who shared this link cannot see this drop.", field="referralCode"
        )
    if await repo.is_cycle(session, drop_id, user.id, referrer):
        raise ValidationFailed(
            "That member was brought by you: a referral cannot go round in a circle.",
            field="referralCode",
            code=ErrorCode.REFERRAL_CYCLE,
        )
    recorded = await repo.record(session, drop_id, user.id, referrer, ReferralSource.DROP.value)
    first = await repo.first_touch(session, drop_id, user.id)
    return Touch(first, recorded and first == referrer)


async def touch_by_team(
    session: AsyncSession, drop_id: int, member_id: int, leader_id: int
) -> None:
    """Joining a team through its link: its leader brought the member, unless the member has a
    first touch already or it would close a cycle (then nothing is recorded)."""
    if member_id != leader_id:
        await repo.record(session, drop_id, member_id, leader_id, ReferralSource.TEAM.value)


async def earn_for_drop(session: AsyncSession, drop_id: int) -> int:
    """At settlement, after the orders are confirmed: the rewards of their referrers."""
    return await repo.earn(session, drop_id)


async def earn_for_order(session: AsyncSession, drop_id: int, order_id: int) -> int:
    """A deposit order's balance was paid (it is confirmed now)."""
    return await repo.earn(session, drop_id, order_id)


async def reverse_for_order(session: AsyncSession, order_id: int) -> int:
    """After a refund of the order (its row lock held): reverse its reward pro rata."""
    return await repo.reverse(session, order_id)


async def account(
    session: AsyncSession,
    actor: Actor,
    user_id: int | None,
    codes: ReferralCodes | None = None,
) -> Account:
    """The viewer's rewards, with their referral code; an operator may read anyone's (without
    the code: it is for the member's own links)."""
    viewer = await roles.require_user(session, actor)
    target = viewer.id if user_id is None else user_id
    if target != viewer.id and not viewer.is_operator:
        raise NotFound("No such user.", field="userId")
    code = codes.code_for(target) if codes is not None and target == viewer.id else None
    return Account(target, *await repo.balance(session, target), referral_code=code)


async def entries(
    session: AsyncSession, actor: Actor, user_id: int | None, after_id: int, limit: int
) -> list[RewardEntry]:
    acc = await account(session, actor, user_id)
    return await repo.entries(session, acc.user_id, after_id, limit)


async def pay_out(
    session: AsyncSession, actor: Actor, user_id: int, amount_fen: int, idempotency_key: str
) -> tuple[RewardEntry, Account]:
    """An operator marks part of a member's balance paid out (a PAID_OUT line). Payouts of one
    member queue on their row lock, so two cannot both spend the same balance."""
    operator = await roles.require_operator(session, actor)
    key = v.idempotency_key(idempotency_key)
    if key is None:
        raise ValidationFailed("idempotencyKey is required.", field="idempotencyKey")
    if not 1 <= amount_fen <= MAX_PAYOUT_FEN:
        raise ValidationFailed(f"amountFen must be 1 to {MAX_PAYOUT_FEN}.", field="amountFen")
    if not await repo.lock_user(session, user_id):
        raise NotFound("No such user.", field="userId")
    done = await repo.payout_by_key(session, user_id, key)
    if done is not None:
        if done.amount_fen != amount_fen:
            raise Conflict(
                "This idempotency key was used for another payout.",
                field="idempotencyKey",
                code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
            )
        return done, Account(user_id, *await repo.balance(session, user_id))
    before = Account(user_id, *await repo.balance(session, user_id))
    if amount_fen > before.balance:
        raise ValidationFailed(
            f"The balance is {before.balance} fen: a payout cannot exceed it.",
            field="amountFen",
            code=ErrorCode.INSUFFICIENT_BALANCE,
        )
    entry = await repo.add(
        session,
        RewardEntry(
            user_id=user_id,
            kind=RewardKind.PAID_OUT,
            amount_fen=amount_fen,
            currency="CNY",
            idempotency_key=key,
            created_by=operator.id,
        ),
    )
    return entry, Account(user_id, before.earned, before.reversed, before.paid_out + amount_fen)


async def top_referrers(session: AsyncSession, actor: Actor, drop_id: int, limit: int) -> list[Any]:
    """The drop's referrers with the buyers they brought, their units and rewards (its KOC,
    operators)."""
    user = await roles.require_user(session, actor)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such drop.", field="dropId")
    return await repo.top_referrers(session, drop_id, limit)


async def referral_tree(
    session: AsyncSession,
    actor: Actor,
    community_id: int,
    inviter_id: int | None,
    after_id: int,
    limit: int,
) -> list[Any]:
    """One level of a community's referral tree: the members ``inviter_id`` brought (without
    one: those who came by the KOC's own code or none), each with how many they brought in
    turn (its KOC, operators)."""
    user = await roles.require_user(session, actor)
    community = await community_repo.get(session, community_id)
    if community is None or not roles.manages(user, community.owner_id):
        raise NotFound("No such community.", field="communityId")
    return await repo.invitees(session, community_id, inviter_id, after_id, limit)
