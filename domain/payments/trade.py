"""Our trade numbers: one per (order, payment step), so a provider's notification names both."""

from __future__ import annotations

from domain.drops.models import Order, OrderStatus, PaymentMode
from domain.payments.models import PaymentStep


def out_trade_no(order_id: int, step: PaymentStep) -> str:
    return f"C2M{order_id}{step.value[0]}"


def parse_trade_no(value: str) -> tuple[int, PaymentStep] | None:
    if not value.startswith("C2M") or len(value) < 5 or len(value) > 32:
        return None
    steps = {s.value[0]: s for s in PaymentStep}
    step = steps.get(value[-1])
    digits = value[3:-1]
    if step is None or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits), step


def step_of(order: Order, mode: PaymentMode) -> PaymentStep:
    if order.status is OrderStatus.DEPOSIT_PAID and order.balance_due_at is not None:
        return PaymentStep.BALANCE
    return PaymentStep.DEPOSIT if mode is PaymentMode.DEPOSIT else PaymentStep.FULL
