from __future__ import annotations

import strawberry


@strawberry.type(description="An amount of money in fen (1/100 yuan) and its currency.")
class Money:
    amount_fen: int
    currency: str = "CNY"
