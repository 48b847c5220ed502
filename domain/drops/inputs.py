"""What a KOC may put in a drop and a member in a pre-order: every check, with the field at fault.

Pure functions (no I/O): the rules of a drop's fields, the lines of an order and a shipping
address, and the canonical hash of a pre-order request (what an idempotency key is bound to)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain import validation as v
from domain.drops.models import PaymentMode, TeamPolicy
from domain.errors import ErrorCode, ValidationFailed

MAX_PRICE_FEN = 100_000_000
MAX_UNITS = 1_000_000
MAX_LINES = 20
MAX_LINE_QUANTITY = 1000
MAX_VARIANTS = 200
MAX_TIERS = 10
MAX_SELLING_DAYS = 90
MIN_TEAM_SIZE, MAX_TEAM_SIZE = 2, 50
MAX_TEAM_HOURS = 7 * 24
MAX_REFERRAL_BASIS_POINTS = 5000  # half of what the order costs
MAX_HEAD_START_MINUTES = 24 * 60


@dataclass
class VariantInput:
    size: str
    color: str
    cap: int | None = None


@dataclass
class TierInput:
    min_quantity: int
    price_fen: int


@dataclass
class TeamsInput:
    """Group-buy teams on a drop: N members at the team price within the time limit."""

    size: int
    price_fen: int
    hours: int = 24
    policy: TeamPolicy = TeamPolicy.REFUND


@dataclass
class ReferralRewardInput:
    """What the member who brought a buyer earns per paid order: a fixed amount, or basis
    points (1/100 %) of what the order finally costs. Exactly one."""

    fixed_fen: int | None = None
    basis_points: int | None = None


@dataclass
class DropInput:
    title: str
    community_ids: list[int]
    variants: list[VariantInput]
    price_fen: int
    payment_mode: PaymentMode
    moq: int
    cap: int
    per_member_limit: int
    opens_at: datetime
    closes_at: datetime
    description: str = ""
    image_urls: list[str] = field(default_factory=list)
    size_chart: str = ""
    tiers: list[TierInput] = field(default_factory=list)
    deposit_fen: int | None = None
    ship_from: date | None = None
    ship_until: date | None = None
    poll_option_id: int | None = None
    unpaid_expiry_minutes: int = 30
    keep_deposit_on_default: bool = True
    teams: TeamsInput | None = None
    referral_reward: ReferralRewardInput | None = None
    voter_head_start_minutes: int = 0


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    region: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "phone": self.phone,
            "region": self.region,
            "detail": self.detail,
        }


def _check_window(data: DropInput) -> None:
    if data.opens_at.tzinfo is None or data.closes_at.tzinfo is None:
        raise ValidationFailed("opensAt and closesAt need a timezone.", field="opensAt")
    if data.closes_at <= data.opens_at:
        raise ValidationFailed("closesAt must be after opensAt.", field="closesAt")
    if data.closes_at - data.opens_at > timedelta(days=MAX_SELLING_DAYS):
        raise ValidationFailed(
            f"A drop sells for at most {MAX_SELLING_DAYS} days.", field="closesAt"
        )


def _check_quantities(data: DropInput) -> None:
    if not 1 <= data.price_fen <= MAX_PRICE_FEN:
        raise ValidationFailed(f"priceFen must be 1 to {MAX_PRICE_FEN}.", field="priceFen")
    if not 1 <= data.moq <= data.cap <= MAX_UNITS:
        raise ValidationFailed(f"Need 1 <= moq <= cap <= {MAX_UNITS}.", field="moq")
    if not 1 <= data.per_member_limit <= min(data.cap, MAX_LINE_QUANTITY):
        raise ValidationFailed(
            f"perMemberLimit must be between 1 and the cap (at most {MAX_LINE_QUANTITY}).",
            field="perMemberLimit",
        )
    if data.payment_mode is PaymentMode.DEPOSIT:
        if data.deposit_fen is None or not 1 <= data.deposit_fen < data.price_fen:
            raise ValidationFailed(
                "A deposit must be at least 1 fen and below the price.", field="depositFen"
            )
    elif data.deposit_fen is not None:
        raise ValidationFailed("depositFen applies only to DEPOSIT drops.", field="depositFen")


def _check_tiers(data: DropInput) -> list[dict[str, int]]:
    if len(data.tiers) > MAX_TIERS:
        raise ValidationFailed(f"At most {MAX_TIERS} tiers.", field="tiers")
    tiers = sorted(data.tiers, key=lambda t: t.min_quantity)
    last_qty, last_price = 0, data.price_fen
    for t in tiers:
        if not (last_qty < t.min_quantity <= data.cap and 1 <= t.price_fen < last_price):
            raise ValidationFailed(
                "Tiers need rising quantities (up to the cap) and falling "
                "prices below the base price.",
                field="tiers",
            )
        if (
            data.payment_mode is PaymentMode.DEPOSIT
            and data.deposit_fen is not None
            and t.price_fen <= data.deposit_fen
        ):
            raise ValidationFailed("Every tier price must stay above the deposit.", field="tiers")
        last_qty, last_price = t.min_quantity, t.price_fen
    return [{"min_quantity": t.min_quantity, "price_fen": t.price_fen} for t in tiers]


def _check_teams(data: DropInput) -> dict[str, Any]:
    t = data.teams
    if t is None:
        return {"team_size": None, "team_price_fen": None, "team_hours": None, "team_policy": None}
    if not MIN_TEAM_SIZE <= t.size <= MAX_TEAM_SIZE:
        raise ValidationFailed(
            f"A team has {MIN_TEAM_SIZE} to {MAX_TEAM_SIZE} members.", field="teams.size"
        )
    if not 1 <= t.price_fen < data.price_fen:
        raise ValidationFailed(
            "The team price is at least 1 fen and below the drop's price.", field="teams.priceFen"
        )
    if data.payment_mode is PaymentMode.DEPOSIT and t.price_fen <= (data.deposit_fen or 0):
        raise ValidationFailed(
            "The team price must stay above the deposit.", field="teams.priceFen"
        )
    if not 1 <= t.hours <= MAX_TEAM_HOURS:
        raise ValidationFailed(
            f"A team's time limit is 1 to {MAX_TEAM_HOURS} hours.", field="teams.hours"
        )
    return {
        "team_size": t.size,
        "team_price_fen": t.price_fen,
        "team_hours": t.hours,
        "team_policy": t.policy,
    }


def _check_referral_reward(data: DropInput) -> dict[str, Any]:
    r = data.referral_reward
    if r is None:
        return {"referral_fixed_fen": None, "referral_basis_points": None}
    if (r.fixed_fen is None) == (r.basis_points is None):
        raise ValidationFailed("Give either fixedFen or basisPoints.", field="referralReward")
    if r.fixed_fen is not None and not 1 <= r.fixed_fen <= data.price_fen:
        raise ValidationFailed(
            "A fixed reward is 1 fen to the drop's price.", field="referralReward.fixedFen"
        )
    if r.basis_points is not None and not 1 <= r.basis_points <= MAX_REFERRAL_BASIS_POINTS:
        raise ValidationFailed(
            f"basisPoints must be 1 to {MAX_REFERRAL_BASIS_POINTS} (0.01 % to 50 %).",
            field="referralReward.basisPoints",
        )
    return {"referral_fixed_fen": r.fixed_fen, "referral_basis_points": r.basis_points}


def _check_variants(data: DropInput) -> list[VariantInput]:
    if not 1 <= len(data.variants) <= MAX_VARIANTS:
        raise ValidationFailed(f"A drop has 1 to {MAX_VARIANTS} variants.", field="variants")
    seen: set[tuple[str, str]] = set()
    clean: list[VariantInput] = []
    for i, var in enumerate(data.variants):
        size = v.text(var.size, f"variants[{i}].size", min_len=1, max_len=16)
        color = v.text(var.color, f"variants[{i}].color", min_len=1, max_len=32)
        if (size, color) in seen:
            raise ValidationFailed("Each size and colour appears once.", field=f"variants[{i}]")
        seen.add((size, color))
        if var.cap is not None and not 0 <= var.cap <= data.cap:
            raise ValidationFailed(
                "A variant cap is between 0 and the drop cap.", field=f"variants[{i}].cap"
            )
        clean.append(VariantInput(size, color, var.cap))
    return clean


@dataclass(frozen=True)
class CheckedDrop:
    """A drop's columns and variants, every rule checked."""

    values: dict[str, Any]
    variants: list[VariantInput]


def check_drop(data: DropInput) -> CheckedDrop:
    title = v.text(data.title, "title", min_len=1, max_len=100)
    _check_window(data)
    _check_quantities(data)
    tiers = _check_tiers(data)
    variants = _check_variants(data)
    if not 1 <= data.unpaid_expiry_minutes <= 24 * 60:
        raise ValidationFailed(
            "unpaidExpiryMinutes must be 1 to 1440.", field="unpaidExpiryMinutes"
        )
    if not 0 <= data.voter_head_start_minutes <= MAX_HEAD_START_MINUTES:
        raise ValidationFailed(
            f"voterHeadStartMinutes must be 0 to {MAX_HEAD_START_MINUTES}.",
            field="voterHeadStartMinutes",
        )
    if data.voter_head_start_minutes and data.poll_option_id is None:
        raise ValidationFailed(
            "A head start is for the voters of a poll option: set pollOptionId.",
            field="voterHeadStartMinutes",
        )
    if data.ship_from and data.ship_until and data.ship_until < data.ship_from:
        raise ValidationFailed("shipUntil is before shipFrom.", field="shipUntil")
    return CheckedDrop(
        values={
            "title": title,
            "description": v.text(data.description, "description", max_len=5000),
            "image_urls": v.https_urls(data.image_urls, "imageUrls", min_count=0, max_count=20),
            "size_chart": v.text(data.size_chart, "sizeChart", max_len=5000),
            "price_fen": data.price_fen,
            "tiers": tiers,
            "payment_mode": data.payment_mode,
            "deposit_fen": data.deposit_fen,
            "moq": data.moq,
            "cap": data.cap,
            "per_member_limit": data.per_member_limit,
            "opens_at": data.opens_at,
            "closes_at": data.closes_at,
            "ship_from": data.ship_from,
            "ship_until": data.ship_until,
            "poll_option_id": data.poll_option_id,
            "unpaid_expiry_seconds": data.unpaid_expiry_minutes * 60,
            "keep_deposit_on_default": data.keep_deposit_on_default,
            **_check_teams(data),
            **_check_referral_reward(data),
            "voter_head_start_minutes": data.voter_head_start_minutes,
        },
        variants=variants,
    )


_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


def check_address(address: Address) -> dict[str, str]:
    name = v.text(address.name, "shippingAddress.name", min_len=1, max_len=50)
    phone = v.text(address.phone, "shippingAddress.phone", min_len=1, max_len=20)
    if not _PHONE.match(phone):
        raise ValidationFailed("The phone number is not valid.", field="shippingAddress.phone")
    region = v.text(address.region, "shippingAddress.region", min_len=1, max_len=100)
    detail = v.text(address.detail, "shippingAddress.detail", min_len=1, max_len=200)
    return Address(name, phone, region, detail).as_dict()


def check_lines(lines: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """1 to MAX_LINES distinct variants, each 1 to MAX_LINE_QUANTITY units; sorted by variant."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise ValidationFailed(f"An order has 1 to {MAX_LINES} lines.", field="lines")
    seen: set[int] = set()
    for variant_id, qty in lines:
        if variant_id in seen:
            raise ValidationFailed(
                "A variant appears twice; put the quantity on one line.", field="lines"
            )
        seen.add(variant_id)
        if not 1 <= qty <= MAX_LINE_QUANTITY:
            raise ValidationFailed(
                f"Each quantity must be 1 to {MAX_LINE_QUANTITY}.",
                field="lines.quantity",
                code=ErrorCode.INVALID_QUANTITY,
            )
    return sorted(lines)


def request_hash(drop_id: int, lines: Sequence[tuple[int, int]], address: dict[str, str]) -> bytes:
    """What an idempotency key is bound to: the same key with another request is refused."""
    return v.payload_hash([drop_id, [list(x) for x in lines], address])


def payload_of(data: DropInput) -> Any:
    """The canonical form of a drop request, for its idempotency key."""
    return [
        data.title,
        sorted(data.community_ids),
        [[x.size, x.color, x.cap] for x in data.variants],
        data.price_fen,
        data.payment_mode.value,
        data.moq,
        data.cap,
        data.per_member_limit,
        data.opens_at.isoformat(),
        data.closes_at.isoformat(),
        data.description,
        list(data.image_urls),
        data.size_chart,
        [[t.min_quantity, t.price_fen] for t in data.tiers],
        data.deposit_fen,
        data.ship_from.isoformat() if data.ship_from else None,
        data.ship_until.isoformat() if data.ship_until else None,
        data.poll_option_id,
        data.unpaid_expiry_minutes,
        data.keep_deposit_on_default,
        *(
            [[data.teams.size, data.teams.price_fen, data.teams.hours, data.teams.policy.value]]
            if data.teams
            else []
        ),
        *(
            [["reward", data.referral_reward.fixed_fen, data.referral_reward.basis_points]]
            if data.referral_reward
            else []
        ),
        *([["head start", data.voter_head_start_minutes]] if data.voter_head_start_minutes else []),
    ]
