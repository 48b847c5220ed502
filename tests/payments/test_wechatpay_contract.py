"""Contract tests of the WeChat Pay v3 adapter against a local fake server."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.payments.provider import (
    BadNotification,
    Keys,
    PrepayRequest,
    ProviderError,
    RefundRequest,
    WeChatPay,
    rsa_verify,
    sign_notification,
)
from tests.fakes.wechat import fake_wechat

MERCHANT = rsa.generate_private_key(65537, 2048)
PLATFORM = rsa.generate_private_key(65537, 2048)
KEYS = Keys(
    MERCHANT, "M-SERIAL", {"P-SERIAL": PLATFORM.public_key()}, b"0123456789abcdef0123456789abcdef"
)


def _check_auth(method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
    auth = headers["authorization"]
    assert auth.startswith("WECHATPAY2-SHA256-RSA2048 ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
    assert fields["mchid"] == "1900000001" and fields["serial_no"] == "M-SERIAL"
    message = f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body.decode()}\n"
    assert rsa_verify(MERCHANT.public_key(), message, fields["signature"])


def _adapter(base: str) -> WeChatPay:
    return WeChatPay(
        mchid="1900000001",
        app_id="wx-app",
        keys=KEYS,
        notify_url="https://c2m.example/payments/wechat/notify",
        base_url=base,
    )


async def test_prepay_is_signed_and_returns_jsapi_params() -> None:
    with fake_wechat() as fake:

        def handle(m: str, q: dict[str, str], body: bytes, h: dict[str, str]) -> tuple[int, Any]:
            _check_auth("POST", "/v3/pay/transactions/jsapi", body, h)
            data = json.loads(body)
            assert data["amount"] == {"total": 10000, "currency": "CNY"}
            assert data["payer"] == {"openid": "o-1"} and data["out_trade_no"] == "C2M1D"
            return 200, {"prepay_id": "wx123"}

        fake.route("POST", "/v3/pay/transactions/jsapi", handle)
        adapter = _adapter(fake.base_url)
        try:
            params = await adapter.prepay(PrepayRequest("C2M1D", "Dress", 10000, "CNY", "o-1"))
        finally:
            await adapter.aclose()
    assert params.package == "prepay_id=wx123"
    message = f"wx-app\n{params.time_stamp}\n{params.nonce_str}\nprepay_id=wx123\n"
    assert rsa_verify(MERCHANT.public_key(), message, params.pay_sign)


async def test_refund_carries_our_refund_number() -> None:
    with fake_wechat() as fake:

        def handle(m: str, q: dict[str, str], body: bytes, h: dict[str, str]) -> tuple[int, Any]:
            _check_auth("POST", "/v3/refund/domestic/refunds", body, h)
            data = json.loads(body)
            assert data["out_refund_no"] == "R1-0"
            return 200, {"refund_id": "50000", "status": "PROCESSING"}

        fake.route("POST", "/v3/refund/domestic/refunds", handle)
        adapter = _adapter(fake.base_url)
        try:
            assert await adapter.refund(RefundRequest("C2M1D", "R1-0", 100, 100, "CNY")) == "50000"
        finally:
            await adapter.aclose()


async def test_provider_errors_are_reported() -> None:
    with fake_wechat() as fake:
        fake.route(
            "POST", "/v3/pay/transactions/jsapi", lambda m, q, b, h: (400, {"code": "PARAM_ERROR"})
        )
        adapter = _adapter(fake.base_url)
        try:
            with pytest.raises(ProviderError):
                await adapter.prepay(PrepayRequest("C2M1D", "Dress", 1, "CNY", "o"))
        finally:
            await adapter.aclose()


def test_notifications_verify_and_decrypt() -> None:
    adapter = WeChatPay(
        mchid="m", app_id="a", keys=KEYS, notify_url="x", base_url="http://127.0.0.1:9"
    )
    headers, body = sign_notification(
        KEYS,
        PLATFORM,
        "P-SERIAL",
        {
            "out_trade_no": "C2M7F",
            "transaction_id": "42",
            "trade_state": "SUCCESS",
            "amount": {"total": 500, "currency": "CNY"},
        },
    )
    notice = adapter.parse_notification(headers, body)
    assert (notice.out_trade_no, notice.transaction_id, notice.amount_fen) == ("C2M7F", "42", 500)
    with pytest.raises(BadNotification):
        adapter.parse_notification({**headers, "Wechatpay-Serial": "OTHER"}, body)
    with pytest.raises(BadNotification):
        adapter.parse_notification(headers, body + b" ")


async def test_a_second_wechat_payment_is_refunded_once(
    services: Any, client: Any, operator_token: str
) -> None:
    """The same rule through the WeChat Pay adapter's own notification path and refund call."""
    from domain.payments import refunds, webhook
    from domain.payments.models import PaymentStep
    from domain.payments.trade import out_trade_no
    from tests.helpers import make_community, make_koc, make_open_drop, members, pk, preorder

    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    (token,) = await members(client, community["inviteCode"], 1)
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]])
    placed = await preorder(client, token, drop["id"], [(drop["variants"][0]["id"], 1)], "k")
    order_id = pk(placed["order"]["id"])
    refunds_asked: list[dict[str, Any]] = []
    with fake_wechat() as fake:

        def refund(m: str, q: dict[str, str], body: bytes, h: dict[str, str]) -> tuple[int, Any]:
            refunds_asked.append(json.loads(body))
            return 200, {"status": "PROCESSING", "refund_id": f"R-{len(refunds_asked)}"}

        fake.route("POST", "/v3/refund/domestic/refunds", refund)
        pay = _adapter(fake.base_url)
        try:
            for txn in ("4200001", "4200002"):
                headers, body = sign_notification(
                    KEYS,
                    PLATFORM,
                    "P-SERIAL",
                    {
                        "out_trade_no": out_trade_no(order_id, PaymentStep.DEPOSIT),
                        "transaction_id": txn,
                        "trade_state": "SUCCESS",
                        "amount": {"total": 5000, "currency": "CNY"},
                    },
                )
                async with services.unit_of_work() as session:
                    await webhook.handle_notification(session, pay, headers, body)
            for expected in (5000, 0):
                async with services.sessionmaker() as session, session.begin():
                    assert await refunds.refund_order(session, pay, order_id) == expected
        finally:
            await pay.aclose()
    assert [(r["out_refund_no"], r["amount"]["refund"]) for r in refunds_asked] == [
        (f"R{order_id}-0", 5000)
    ]
