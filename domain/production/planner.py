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

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.drops.models import DropStatus
from domain.production import repository as repo
from domain.production.models import Batch


async def plan(session: AsyncSession, drop_id: int) -> list[Batch]:
    """Create the batches the rule allows now; returns the new ones.

    Set-based: the queue is read as one row of arrays, the batches are cut by walking the
    queue's cumulative units once in memory, and the batches, their items and their lines are
    written by three statements, so planning 20,000 orders costs a few round trips rather than
    one per item."""
    await drop_repo.lock_exclusive(session, drop_id)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or drop.status is not DropStatus.SUCCEEDED:
        return []
    factories = await repo.factories_of(session, drop_id)
    if not factories:
        return []
    final = await repo.outstanding_balances(session, drop_id) == 0
    orders, variants, left = await repo.unallocated(session, drop_id)
    total = sum(left)
    sequence = await repo.last_sequence(session, drop_id)
    turn = sequence  # factories take runs in turn, continuing from earlier plans
    batches: list[tuple[int, int, bool]] = []
    runs: list[tuple[int, int]] = []  # (sequence, size)
    while total > 0:
        factory = factories[turn % len(factories)]
        size = min(total, max(1, factory.capacity_per_day))
        below = size < factory.min_batch
        if below and not final:
            break
        sequence += 1
        turn += 1
        batches.append((factory.id, sequence, below))
        runs.append((sequence, size))
        total -= size
    if not batches:
        return []
    items = _cut(orders, variants, left, runs)
    return await repo.add_batches(session, drop_id, batches, items)


def _cut(
    orders: list[int], variants: list[int], left: list[int], runs: list[tuple[int, int]]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Allocate the queue to the runs in order: each run takes the next ``size`` units; an order
    line may be split at a run boundary. Returns the items as parallel arrays (batch sequence,
    order, variant, quantity)."""
    out_seq: list[int] = []
    out_order: list[int] = []
    out_variant: list[int] = []
    out_qty: list[int] = []
    head = 0
    carried = left[0] if left else 0  # units of queue[head] not yet taken
    for seq, size in runs:
        need = size
        while need > 0:
            take = min(carried, need)
            out_seq.append(seq)
            out_order.append(orders[head])
            out_variant.append(variants[head])
            out_qty.append(take)
            carried -= take
            need -= take
            if carried == 0:
                head += 1
                carried = left[head] if head < len(left) else 0
    return out_seq, out_order, out_variant, out_qty
