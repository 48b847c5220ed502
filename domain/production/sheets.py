"""A batch's sheets (CSV), for its factory or the drop's KOC:

- ``sheet``: the production report, a size x colour matrix with totals and the notes;
- ``lines``: one flat table, one row per SKU with ids, quantities, shipped, to ship and the
  ship-by date, its header on the first row (what Excel, LibreOffice and pandas read as a table);
- ``packing``: the packing list, one row per order and SKU (no addresses: they stay with the
  member and the platform's shipping).

Every sheet is UTF-8 with a byte-order mark: Excel on Windows reads the Chinese colour names
right only with it, and LibreOffice and pandas skip it. Ids are the API's global ids."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.errors import NotFound
from domain.identity.actor import Actor
from domain.production import repository as repo
from domain.production.factory_api import get_batch

BOM = "\ufeff"
SHEETS = ("sheet", "lines", "packing")


def api_id(type_name: str, pk: int) -> str:
    """The id the GraphQL API gives the object (Relay global id: base64 of ``Type:pk``)."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def _csv(rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return BOM + out.getvalue()


async def sheet(session: AsyncSession, actor: Actor, batch_id: int, kind: str) -> str:
    if kind == "lines":
        return await lines_sheet(session, actor, batch_id)
    if kind == "packing":
        return await packing_list(session, actor, batch_id)
    return await production_sheet(session, actor, batch_id)


async def lines_sheet(session: AsyncSession, actor: Actor, batch_id: int) -> str:
    batch = await get_batch(session, actor, batch_id)
    drop = await drop_repo.get(session, batch.drop_id)
    if drop is None:
        raise NotFound("No such batch.", field="batchId")
    variants = {v.id: v for v in await drop_repo.variants(session, batch.drop_id)}
    header: list[object] = [
        "batch_id", "batch_sequence", "drop_id", "drop_title", "sku_id", "size", "color",
        "quantity", "shipped", "to_ship", "ship_by", "status", "stage",
    ]  # fmt: skip
    rows: list[list[object]] = [header]
    for line in (await repo.lines(session, [batch_id]))[batch_id]:
        v = variants[line.variant_id]
        rows.append(
            [
                api_id("Batch", batch.id),
                batch.sequence,
                api_id("Drop", drop.id),
                drop.title,
                api_id("DropVariant", v.id),
                v.size,
                v.color,
                line.quantity,
                line.shipped,
                line.quantity - line.shipped,
                drop.ship_until.isoformat() if drop.ship_until else "",
                batch.status.value,
                batch.stage.value if batch.stage else "",
            ]
        )
    return _csv(rows)


async def packing_list(session: AsyncSession, actor: Actor, batch_id: int) -> str:
    batch = await get_batch(session, actor, batch_id)
    variants = {v.id: v for v in await drop_repo.variants(session, batch.drop_id)}
    rows: list[list[object]] = [
        ["batch_id", "order_id", "sku_id", "size", "color", "quantity", "shipped"]
    ]
    for item in await repo.items(session, batch_id):
        v = variants[item.variant_id]
        rows.append(
            [
                api_id("Batch", batch.id),
                api_id("Order", item.order_id),
                api_id("DropVariant", v.id),
                v.size,
                v.color,
                item.quantity,
                item.shipped,
            ]
        )
    return _csv(rows)


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
    out.write(BOM)
    w = csv.writer(out)
    w.writerow(["batch", api_id("Batch", batch.id), "drop", drop.title, "sequence", batch.sequence])
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
