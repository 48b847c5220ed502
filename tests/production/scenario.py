"""Builds a paid, closed drop through the API (payments through the signed webhook)."""

from __future__ import annotations

from typing import Any

import asyncpg

from domain.payments.models import PaymentStep
from domain.payments.provider import sign_notification
from domain.payments.trade import out_trade_no
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import make_community, make_koc, make_open_drop, members, pk, preorder


async def pay(
    client: GraphQLClient, services: Any, order_id: int, amount: int, step: PaymentStep, txn: str
) -> int:
    p = services.payments
    headers, body = sign_notification(
        p.keys,
        p._platform,
        "SANDBOX-PLATFORM",
        {
            "out_trade_no": out_trade_no(order_id, step),
            "transaction_id": txn,
            "trade_state": "SUCCESS",
            "amount": {"total": amount, "currency": "CNY"},
        },
    )
    resp = await client.http.post("/payments/wechat/notify", content=body, headers=headers)
    return resp.status_code


async def sql(settings: Settings, query: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect((settings.database_url or "").replace("+asyncpg", ""))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def paid_drop(
    client: GraphQLClient,
    services: Any,
    operator_token: str,
    *,
    buyers: int,
    units: int,
    mode: str = "FULL",
    moq: int = 5,
    cap: int = 20,
    unpaid: int = 0,
) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], buyers + unpaid, prefix="buyer")
    drop = await make_open_drop(
        client, koc["accessToken"], [community["id"]], cap=cap, moq=moq, limit=3, mode=mode
    )
    variants = [v["id"] for v in drop["variants"]]
    orders = []
    for i, token in enumerate(tokens):
        out = await preorder(
            client, token, drop["id"], [(variants[i % len(variants)], units)], f"o{i}"
        )
        assert out["errors"] == [], out
        order = out["order"]
        if i < buyers:
            step = PaymentStep.DEPOSIT if mode == "DEPOSIT" else PaymentStep.FULL
            assert (
                await pay(
                    client,
                    services,
                    pk(order["id"]),
                    order["amountDue"]["amountFen"],
                    step,
                    f"T{i}",
                )
                == 204
            )
        orders.append(
            {
                "id": order["id"],
                "pk": pk(order["id"]),
                "token": token,
                "amount": order["amountDue"]["amountFen"],
            }
        )
    return {
        "koc": koc,
        "drop": drop,
        "drop_pk": pk(drop["id"]),
        "orders": orders,
        "variants": variants,
        "community": community,
    }


async def close(client: GraphQLClient, scene: dict[str, Any]) -> None:
    out = await client.query(
        "mutation($d: ID!) { closeDrop(dropId: $d) { drop { status } errors { code } } }",
        {"d": scene["drop"]["id"]},
        token=scene["koc"]["accessToken"],
    )
    assert out["closeDrop"]["drop"]["status"] == "CLOSED", out
