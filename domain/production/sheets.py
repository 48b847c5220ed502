"""The production sheet of a batch (CSV), for its factory or the drop's KOC."""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.errors import NotFound
from domain.identity.actor import Actor
from domain.production import repository as repo
from domain.production.factory_api import get_batch


async def production_sheet(session: AsyncSession, actor: Actor, batch_id: int) -> str:
    """CSV: a size x colour matrix of the batch with totals, and its notes."""
    batch = await get_batch(session, actor, batch_id)
    drop = await drop_repo.get(session, batch.drop_id)
    if drop is None:
        raise NotFound("No such batch.", field="batchId")
    variants = {v.id: v for v in await drop_repo.variants(session, batch.drop_id)}
    qty = {
        (variants[line.variant_id].size, variants[line.variant_id].color): line.quantity
        for line in (await repo.lines(session, [batch_id]))[batch_id]
    }
    sizes = list(dict.fromkeys(v.size for v in variants.values()))
    colors = list(dict.fromkeys(v.color for v in variants.values()))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["batch", batch.id, "drop", drop.title, "sequence", batch.sequence])
    w.writerow(["size \\ colour", *colors, "total"])
    for size in sizes:
        row = [qty.get((size, c), 0) for c in colors]
        w.writerow([size, *row, sum(row)])
    col_totals = [sum(qty.get((s, c), 0) for s in sizes) for c in colors]
    w.writerow(["total", *col_totals, sum(col_totals)])
    w.writerow([])
    w.writerow(["size chart", drop.size_chart])
    w.writerow(
        [
            "note",
            batch.note + (" (below the factory's minimum batch)" if batch.below_minimum else ""),
        ]
    )
    return out.getvalue()
