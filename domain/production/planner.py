"""Splits a succeeded drop's confirmed demand into batch production orders.

The planning rule (small batches, many runs):

1. Demand is the CONFIRMED orders' lines not yet allocated to a batch, per SKU, taken in order id
   order (first confirmed, first made). Fully paid orders are confirmed at settlement; deposit
   orders when their balance arrives, so the first batch comes from the fully paid orders and more
   batches follow as balances arrive.
2. The drop's factories take runs in turn, by priority. One batch is one run: at most the
   factory's capacity per day (a factory's run is a day's output; demand above it becomes several
   batches).
3. A batch must reach the factory's minimum batch size. While balances are still outstanding, a
   remainder below the minimum waits for more confirmed demand; once nothing more can arrive
   (``final``), the remainder is made anyway, flagged ``below_minimum`` for the factory to see.
4. Lines of a batch are the sums of its allocated member-order items; an order line may be split
   across two batches at a batch boundary.

Runs under the drop's exclusive advisory lock; allocation is recorded per (batch, order, variant),
so running the planner again only plans what is still unallocated: idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.drops.models import DropStatus
from domain.production import repository as repo
from domain.production.models import Batch


@dataclass
class _Open:
    order_id: int
    variant_id: int
    left: int


async def plan(session: AsyncSession, drop_id: int) -> list[Batch]:
    """Create the batches the rule allows now; returns the new ones."""
    await drop_repo.lock_exclusive(session, drop_id)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or drop.status is not DropStatus.SUCCEEDED:
        return []
    factories = await repo.factories_of(session, drop_id)
    if not factories:
        return []
    final = await repo.outstanding_balances(session, drop_id) == 0
    queue = [_Open(o, v, q) for o, v, q in await repo.unallocated(session, drop_id)]
    total = sum(x.left for x in queue)
    sequence = await repo.last_sequence(session, drop_id)
    made: list[Batch] = []
    turn = sequence  # factories take runs in turn, continuing from earlier plans
    head = 0
    while total > 0:
        factory = factories[turn % len(factories)]
        size = min(total, max(1, factory.capacity_per_day))
        below = size < factory.min_batch
        if below and not final:
            break
        sequence += 1
        turn += 1
        lines: dict[int, int] = {}
        rows: list[dict[str, int]] = []
        need = size
        while need > 0:
            item = queue[head]
            take = min(item.left, need)
            rows.append(
                {
                    "order_id": item.order_id,
                    "variant_id": item.variant_id,
                    "quantity": take,
                    "shipped": 0,
                }
            )
            lines[item.variant_id] = lines.get(item.variant_id, 0) + take
            item.left -= take
            need -= take
            if item.left == 0:
                head += 1
        batch = Batch(
            drop_id=drop_id, factory_id=factory.id, sequence=sequence, below_minimum=below
        )
        await repo.add_batch(session, batch, rows, lines)
        total -= size
        made.append(batch)
    await session.flush()
    return made
