"""Tier prices (阶梯价): the more are ordered, the lower the price for everyone."""

from __future__ import annotations

from typing import Any

from domain.drops.models import Drop


def tier_price(
    base_price_fen: int, tiers: list[dict[str, Any]], quantity: int
) -> tuple[int, dict[str, int] | None]:
    """The price everyone pays at this total quantity, and the next tier (if any). ``tiers`` are
    sorted by rising ``min_quantity`` with falling ``price_fen`` (checked when the drop is made)."""
    price = base_price_fen
    next_tier = None
    for t in tiers:
        if quantity >= t["min_quantity"]:
            price = t["price_fen"]
        elif next_tier is None:
            next_tier = t
    return price, next_tier


def drop_price(drop: Drop, quantity: int) -> tuple[int, dict[str, int] | None]:
    return tier_price(drop.price_fen, drop.tiers, quantity)
