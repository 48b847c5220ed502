"""The rules of a drop's fields and a pre-order's lines and address (pure functions)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.drops.inputs import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    Address,
    DropInput,
    TierInput,
    VariantInput,
    check_address,
    check_drop,
    check_lines,
    request_hash,
)
from domain.drops.models import PaymentMode
from domain.errors import ErrorCode, ValidationFailed

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def good() -> DropInput:
    return DropInput(
        title=" Linen dress ",
        community_ids=[1],
        variants=[VariantInput("S", "black"), VariantInput("M", "black", cap=5)],
        price_fen=29900,
        payment_mode=PaymentMode.DEPOSIT,
        deposit_fen=5000,
        moq=5,
        cap=20,
        per_member_limit=3,
        opens_at=NOW,
        closes_at=NOW + timedelta(days=7),
        tiers=[TierInput(15, 23900), TierInput(10, 25900)],
    )


def test_a_good_drop_is_cleaned() -> None:
    checked = check_drop(good())
    assert checked.values["title"] == "Linen dress"
    # Tiers are kept sorted by quantity whatever order they came in.
    assert checked.values["tiers"] == [
        {"min_quantity": 10, "price_fen": 25900},
        {"min_quantity": 15, "price_fen": 23900},
    ]
    assert [(v.size, v.color, v.cap) for v in checked.variants] == [
        ("S", "black", None),
        ("M", "black", 5),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "bad\x00title"}, "title"),
        ({"closes_at": NOW}, "closesAt"),
        ({"closes_at": NOW + timedelta(days=91)}, "closesAt"),
        ({"opens_at": datetime(2026, 12, 1)}, "opensAt"),  # noqa: DTZ001 - naive on purpose
        ({"price_fen": 0}, "priceFen"),
        ({"price_fen": 100_000_001}, "priceFen"),
        ({"moq": 30}, "moq"),
        ({"per_member_limit": 21}, "perMemberLimit"),
        ({"deposit_fen": 29900}, "depositFen"),
        ({"deposit_fen": None}, "depositFen"),
        ({"payment_mode": PaymentMode.FULL}, "depositFen"),
        ({"tiers": [TierInput(10, 30000)]}, "tiers"),
        ({"tiers": [TierInput(21, 20000)]}, "tiers"),
        ({"tiers": [TierInput(10, 4000)]}, "tiers"),  # below the deposit
        ({"tiers": [TierInput(i + 1, 29000 - i) for i in range(11)]}, "tiers"),
        ({"variants": []}, "variants"),
        ({"variants": [VariantInput("S", "black"), VariantInput("S", "black")]}, "variants[1]"),
        ({"variants": [VariantInput("S", "black", cap=21)]}, "variants[0].cap"),
        ({"variants": [VariantInput("S" * 17, "black")]}, "variants[0].size"),
        ({"unpaid_expiry_minutes": 0}, "unpaidExpiryMinutes"),
        ({"image_urls": ["http://insecure"]}, "imageUrls"),
    ],
)
def test_every_bad_field_is_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_drop(replace(good(), **change))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_lines_are_sorted_and_bounded() -> None:
    assert check_lines([(9, 1), (3, 2)]) == [(3, 2), (9, 1)]
    with pytest.raises(ValidationFailed, match="twice"):
        check_lines([(3, 1), (3, 1)])
    with pytest.raises(ValidationFailed) as caught:
        check_lines([(3, MAX_LINE_QUANTITY + 1)])
    assert caught.value.code is ErrorCode.INVALID_QUANTITY
    with pytest.raises(ValidationFailed):
        check_lines([])
    with pytest.raises(ValidationFailed):
        check_lines([(i, 1) for i in range(MAX_LINES + 1)])


def test_address_rules_and_the_request_hash() -> None:
    address = check_address(Address(" Li Hua ", "138 0000 0000", "Hangzhou", "Wensan Rd 1"))
    assert address["name"] == "Li Hua"
    with pytest.raises(ValidationFailed) as caught:
        check_address(Address("Li", "not a phone", "r", "d"))
    assert caught.value.field == "shippingAddress.phone"
    with pytest.raises(ValidationFailed):
        check_address(Address("Li", "13800000000", "r", "\ud800"))
    # What an idempotency key is bound to: the drop, the lines and the address.
    same = request_hash(1, [(3, 2)], address)
    assert same == request_hash(1, [(3, 2)], dict(address))
    assert same != request_hash(1, [(3, 1)], address) != request_hash(2, [(3, 2)], address)
