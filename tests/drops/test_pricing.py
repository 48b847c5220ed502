"""Tier prices (pure): everyone pays the tier the total quantity reached."""

from __future__ import annotations

import pytest

from domain.drops.pricing import tier_price

TIERS = [{"min_quantity": 10, "price_fen": 25900}, {"min_quantity": 15, "price_fen": 23900}]


@pytest.mark.parametrize(
    ("quantity", "price", "next_tier"),
    [
        (0, 29900, TIERS[0]),
        (9, 29900, TIERS[0]),
        (10, 25900, TIERS[1]),
        (14, 25900, TIERS[1]),
        (15, 23900, None),
        (1000, 23900, None),
    ],
)
def test_the_tier_reached_sets_the_price(
    quantity: int, price: int, next_tier: dict[str, int] | None
) -> None:
    assert tier_price(29900, TIERS, quantity) == (price, next_tier)


def test_no_tiers_is_the_base_price() -> None:
    assert tier_price(19900, [], 500) == (19900, None)
