"""The planner's cut of the queue into runs: every unit of the queue's prefix lands in exactly one
run, each run gets exactly its size, and lines keep the queue's order (first confirmed, first
made), whatever the line sizes and run sizes."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from domain.production.planner import _cut


@given(
    lines=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=60),
    sizes=st.lists(st.integers(min_value=1, max_value=25), min_size=1, max_size=12),
)
def test_cut_allocates_each_unit_once_in_queue_order(lines: list[int], sizes: list[int]) -> None:
    total = sum(lines)
    runs: list[tuple[int, int]] = []
    for i, size in enumerate(sizes):
        taken = sum(s for _, s in runs)
        if taken >= total:
            break
        runs.append((i + 1, min(size, total - taken)))
    orders = list(range(100, 100 + len(lines)))
    variants = [o % 3 for o in orders]
    seq, order, variant, qty = _cut(orders, variants, lines, runs)
    assert all(q > 0 for q in qty)
    per_run = Counter[int]()
    for s, q in zip(seq, qty, strict=True):
        per_run[s] += q
    assert dict(per_run) == dict(runs)
    per_line = Counter[int]()
    for o, v, q in zip(order, variant, qty, strict=True):
        assert v == o % 3
        per_line[o] += q
    allocated = sum(size for _, size in runs)
    expected = Counter[int]()
    left = allocated
    for o, units in zip(orders, lines, strict=True):
        if left == 0:
            break
        expected[o] = min(units, left)
        left -= expected[o]
    assert per_line == expected
    assert order == sorted(order)  # first confirmed, first made
    assert seq == sorted(seq)
