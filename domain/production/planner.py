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

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.drops.models import DropStatus, Order, OrderLine, OrderStatus
from domain.identity.models import Factory
from domain.production.models import Batch, BatchItem, BatchLine, DropFactory


@dataclass
class _Open:
    order_id: int
    variant_id: int
    left: int


async def unallocated(session: AsyncSession, drop_id: int) -> list[_Open]:
    allocated = (select(BatchItem.order_id, BatchItem.variant_id,
                        func.sum(BatchItem.quantity).label("q"))
                 .group_by(BatchItem.order_id, BatchItem.variant_id).subquery())
    stmt = (
        select(OrderLine.order_id, OrderLine.variant_id,
               OrderLine.quantity - func.coalesce(allocated.c.q, 0))
        .join(Order, Order.id == OrderLine.order_id)
        .outerjoin(allocated, (allocated.c.order_id == OrderLine.order_id)
                   & (allocated.c.variant_id == OrderLine.variant_id))
        .where(Order.drop_id == drop_id, Order.status == OrderStatus.CONFIRMED)
        .order_by(OrderLine.order_id, OrderLine.variant_id)
    )
    return [_Open(o, v, int(q)) for o, v, q in (await session.execute(stmt)).all() if q > 0]


async def factories_of(session: AsyncSession, drop_id: int) -> list[Factory]:
    stmt = (select(Factory).join(DropFactory, DropFactory.factory_id == Factory.id)
            .where(DropFactory.drop_id == drop_id).order_by(DropFactory.priority))
    return list((await session.execute(stmt)).scalars())


async def outstanding_balances(session: AsyncSession, drop_id: int) -> int:
    stmt = select(func.count()).select_from(Order).where(
        Order.drop_id == drop_id, Order.status == OrderStatus.DEPOSIT_PAID)
    return int((await session.execute(stmt)).scalar_one())


async def plan(session: AsyncSession, drop_id: int) -> list[Batch]:
    """Create the batches the rule allows now; returns the new ones."""
    await drop_repo.lock_exclusive(session, drop_id)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or drop.status is not DropStatus.SUCCEEDED:
        return []
    factories = await factories_of(session, drop_id)
    if not factories:
        return []
    final = await outstanding_balances(session, drop_id) == 0
    queue = await unallocated(session, drop_id)
    total = sum(x.left for x in queue)
    sequence = int((await session.execute(select(func.coalesce(func.max(Batch.sequence), 0))
                                          .where(Batch.drop_id == drop_id))).scalar_one())
    made: list[Batch] = []
    turn = sequence  # factories take runs in turn, continuing from earlier plans
    while total > 0:
        factory = factories[turn % len(factories)]
        size = min(total, max(1, factory.capacity_per_day))
        below = size < factory.min_batch
        if below and not final:
            break
        sequence += 1
        turn += 1
        batch = Batch(drop_id=drop_id, factory_id=factory.id, sequence=sequence,
                      below_minimum=below)
        session.add(batch)
        await session.flush()
        lines: dict[int, int] = {}
        rows: list[dict[str, int]] = []
        need = size
        while need > 0:
            item = queue[0]
            take = min(item.left, need)
            rows.append({"batch_id": batch.id, "order_id": item.order_id,
                         "variant_id": item.variant_id, "quantity": take, "shipped": 0})
            lines[item.variant_id] = lines.get(item.variant_id, 0) + take
            item.left -= take
            need -= take
            if item.left == 0:
                queue.pop(0)
        await session.execute(insert(BatchItem), rows)  # one executemany, not an ORM flush
        session.add_all([BatchLine(batch_id=batch.id, variant_id=v, quantity=q)
                         for v, q in sorted(lines.items())])
        total -= size
        made.append(batch)
    await session.flush()
    return made
