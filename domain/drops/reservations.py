"""Capped reservations of a drop in Redis. PostgreSQL (the orders and the units they hold) is the
truth; these keys are rebuilt from it at any moment.

Keys share the hash tag ``{drop:<id>}`` (one Redis Cluster slot):

* ``ready``    the marker (``domain/marker.py``): the ``run_id`` of the Redis process that
  rebuilt the counters. The scripts refuse (``NOT_READY``) when it is missing (Redis restarted
  empty) **or names another process** (Redis restarted from its files, or a replica was promoted:
  its data may be behind). Either way the caller rebuilds from PostgreSQL before selling.
* ``limits``   hash: ``opens``/``closes`` (epoch ms), ``early`` (when the poll option's voters
  may start: ``opens`` minus the head start), ``cap``, ``member_limit``, and per variant
  ``v:<id>`` = its cap (or -1 when it has none). Only variants listed here can be reserved.
* ``voters``   set of the members whose ballot picks the drop's poll option (a head start only);
* ``total``    reserved units of the drop;
* ``variant``  hash variant -> reserved units;
* ``member``   hash member -> reserved units (its length is the number of buyers);
* ``res``      hash order -> ``"<member>|<ms>|<v>:<q>,...|<units>|<v>:<units>;...|<team>"``:
  each reservation under its order id, with the unit numbers it holds and the team whose seat
  it takes (empty for none), so it is released exactly once and phantoms can be found;
* ``teams``    hash team -> seats taken (a seat is a live order of the team): checked and taken
  by the same script as the units, so a team never has more seats than its size;
* ``units``    hash: ``hw`` (the highest drop unit handed out) and ``v:<id>`` (per capped variant);
  ``free`` (set of drop units given back below ``hw``) and ``vfree:<id>`` (per capped variant).

One script checks the window, a team's free seat, the per-member limit, the variant caps and the
drop cap, reserves,
and hands out unit numbers (1..cap, and 1..variant cap) that the order then holds in PostgreSQL
(``drop_units``, ``variant_units``), where a unit can be held only once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from domain.marker import RUN_ID, VOUCHED

RESERVE = (
    """
if not """
    + VOUCHED
    + """ then return {-1} end
local held = redis.call('HGET', KEYS[6], ARGV[1])
if held then return {2, 0, held} end
local lim = redis.call('HGETALL', KEYS[2])
local L = {}
for i = 1, #lim, 2 do L[lim[i]] = tonumber(lim[i + 1]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < L['opens'] then
  -- The voters' head start: the poll option's voters (the ``voters`` set) from ``early``.
  local early = L['early'] or L['opens']
  local voter = early < L['opens']
    and redis.call('SISMEMBER', (string.gsub(KEYS[8], ':free$', ':voters')), ARGV[2]) == 1
  if not (voter and now >= early) then
    return {-2, voter and early or L['opens'], (not voter and now >= early) and 1 or 0}
  end
end
if now >= L['closes'] then return {-3} end
local team, tsize = string.match(ARGV[4], '^(%d+):(%d+)$')
local tkey = string.gsub(KEYS[8], ':free$', ':teams')
if team and tonumber(redis.call('HGET', tkey, team) or '0') >= tonumber(tsize) then
  return {-8}
end
local qty = 0
for i = 5, #ARGV, 2 do
  local v = ARGV[i]
  if L['v:' .. v] == nil then return {-7, tonumber(v)} end
  qty = qty + tonumber(ARGV[i + 1])
end
local mine = tonumber(redis.call('HGET', KEYS[5], ARGV[2]) or '0')
if mine + qty > L['member_limit'] then return {-4, L['member_limit'] - mine} end
local total = tonumber(redis.call('GET', KEYS[3]) or '0')
if total + qty > L['cap'] then return {-5, L['cap'] - total} end
for i = 5, #ARGV, 2 do
  local vcap = L['v:' .. ARGV[i]]
  if vcap >= 0 then
    local used = tonumber(redis.call('HGET', KEYS[4], ARGV[i]) or '0')
    if used + tonumber(ARGV[i + 1]) > vcap then return {-6, tonumber(ARGV[i]), vcap - used} end
  end
end
local function take(free_key, hw_field, n)
  local got = redis.call('SPOP', free_key, n)
  local hw = tonumber(redis.call('HGET', KEYS[7], hw_field) or '0')
  while #got < n do
    hw = hw + 1
    got[#got + 1] = tostring(hw)
  end
  redis.call('HSET', KEYS[7], hw_field, hw)
  return table.concat(got, ',')
end
local lines, vunits = {}, {}
for i = 5, #ARGV, 2 do
  local v, q = ARGV[i], tonumber(ARGV[i + 1])
  redis.call('HINCRBY', KEYS[4], v, q)
  lines[#lines + 1] = v .. ':' .. q
  if L['v:' .. v] >= 0 then
    vunits[#vunits + 1] = v .. ':' .. take(KEYS[8 + (i - 3) / 2], 'v:' .. v, q)
  end
end
local units = take(KEYS[8], 'hw', qty)
redis.call('INCRBY', KEYS[3], qty)
redis.call('HINCRBY', KEYS[5], ARGV[2], qty)
if team then redis.call('HINCRBY', tkey, team, 1) end
local rec = ARGV[2] .. '|' .. now .. '|' .. table.concat(lines, ',') .. '|' .. units .. '|'
  .. table.concat(vunits, ';') .. '|' .. (team or '')
redis.call('HSET', KEYS[6], ARGV[1], rec)
redis.call('PUBLISH', ARGV[3], '1')
return {1, L['cap'] - total - qty, rec}
"""
)

# KEYS as for RESERVE (without the variants' free sets: the record names them, same hash tag).
RELEASE = """
local rec = redis.call('HGET', KEYS[6], ARGV[1])
if not rec then return 0 end
local member, _, lines, units, vunits, team =
  string.match(rec, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|?(%d*)$')
local qty = 0
for v, q in string.gmatch(lines, '(%d+):(%d+)') do
  redis.call('HINCRBY', KEYS[4], v, -tonumber(q))
  qty = qty + tonumber(q)
end
for u in string.gmatch(units, '%d+') do redis.call('SADD', KEYS[8], u) end
for v, us in string.gmatch(vunits, '(%d+):([%d,]+)') do
  local key = string.gsub(KEYS[8], ':free$', ':vfree:' .. v)
  for u in string.gmatch(us, '%d+') do redis.call('SADD', key, u) end
end
redis.call('DECRBY', KEYS[3], qty)
if redis.call('HINCRBY', KEYS[5], member, -qty) <= 0 then redis.call('HDEL', KEYS[5], member) end
if team ~= '' then
  local tkey = string.gsub(KEYS[8], ':free$', ':teams')
  if redis.call('HINCRBY', tkey, team, -1) <= 0 then redis.call('HDEL', tkey, team) end
end
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('PUBLISH', ARGV[2], '1')
return 1
"""

# Replace everything with a snapshot from PostgreSQL. ARGV: channel, n limit fields, n field/value
# pairs, m unit fields, m field/value pairs ('hw', 'v:<id>'), then free lists as
# (key suffix, count, units...) until the marker '--', then reservations as (order, record).
REBUILD = (
    """
for _, key in ipairs(KEYS) do redis.call('DEL', key) end
local tkey = string.gsub(KEYS[8], ':free$', ':teams')
redis.call('DEL', tkey)
local i = 2
for _, target in ipairs({KEYS[2], KEYS[7]}) do
  local n = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, n do
    redis.call('HSET', target, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
end
while ARGV[i] ~= '--' do
  local key = string.gsub(KEYS[8], ':free$', ARGV[i])
  local n = tonumber(ARGV[i + 1])
  redis.call('DEL', key)
  for j = 1, n do redis.call('SADD', key, ARGV[i + 1 + j]) end
  i = i + 2 + n
end
i = i + 1
local total = 0
while i <= #ARGV do
  local order, rec = ARGV[i], ARGV[i + 1]
  local member, _, lines = string.match(rec, '^([^|]*)|([^|]*)|([^|]*)|')
  local qty = 0
  for v, q in string.gmatch(lines, '(%d+):(%d+)') do
    redis.call('HINCRBY', KEYS[4], v, tonumber(q))
    qty = qty + tonumber(q)
  end
  redis.call('HINCRBY', KEYS[5], member, qty)
  local team = string.match(rec, '|(%d+)$')
  if team then redis.call('HINCRBY', tkey, team, 1) end
  redis.call('HSET', KEYS[6], order, rec)
  total = total + qty
  i = i + 2
end
redis.call('SET', KEYS[3], total)
redis.call('SET', KEYS[1], """
    + RUN_ID
    + """)
redis.call('PUBLISH', ARGV[1], '1')
return total
"""
)


PROGRESS = (
    "if not "
    + VOUCHED
    + """ then return {0} end
return {1, tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('HLEN', KEYS[5]),
        redis.call('HGETALL', KEYS[4])}
"""
)

# Would RESERVE refuse this request for the drop's cap, and with what remaining? The same checks
# in the same order up to the cap (marker, window, variants known, the member's limit), reading
# only: -1 means "not a cap refusal, take the normal road". KEYS: ready, limits, total, variant,
# member. ARGV: member, quantity, variant ids.
SOLD_OUT = (
    "if not "
    + VOUCHED
    + """ then return -1 end
local lim = redis.call('HGETALL', KEYS[2])
local L = {}
for i = 1, #lim, 2 do L[lim[i]] = tonumber(lim[i + 1]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < L['opens'] or now >= L['closes'] then return -1 end
for i = 3, #ARGV do
  if L['v:' .. ARGV[i]] == nil then return -1 end
end
local qty = tonumber(ARGV[2])
local mine = tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0')
if mine + qty > L['member_limit'] then return -1 end
local total = tonumber(redis.call('GET', KEYS[3]) or '0')
if total + qty > L['cap'] then return math.max(0, L['cap'] - total) end
return -1
"""
)

STATE = (
    "if not "
    + VOUCHED
    + """ then return {0} end
return {1, tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('HKEYS', KEYS[6])}
"""
)


FULL_HINT_SECONDS = 5.0
FULL_HINTS_KEPT = 10_000


def _tag(drop_id: int) -> str:
    return f"c2m:{{drop:{drop_id}}}"


def keys(drop_id: int) -> list[str]:
    tag = _tag(drop_id)
    return [
        f"{tag}:ready",
        f"{tag}:limits",
        f"{tag}:total",
        f"{tag}:variant",
        f"{tag}:member",
        f"{tag}:res",
        f"{tag}:units",
        f"{tag}:free",
    ]


def variant_free_key(drop_id: int, variant_id: int) -> str:
    return f"{_tag(drop_id)}:vfree:{variant_id}"


def channel(drop_id: int) -> str:
    return f"{_tag(drop_id)}:changed"


@dataclass(frozen=True)
class Limits:
    opens_ms: int
    closes_ms: int
    cap: int
    member_limit: int
    variant_caps: dict[int, int | None]
    early_ms: int | None = None  # the voters' head start begins (None: no head start)

    def fields(self) -> list[str | int]:
        out: list[str | int] = [
            "opens",
            self.opens_ms,
            "early",
            self.opens_ms if self.early_ms is None else self.early_ms,
            "closes",
            self.closes_ms,
            "cap",
            self.cap,
            "member_limit",
            self.member_limit,
        ]
        for vid, vcap in self.variant_caps.items():
            out += [f"v:{vid}", -1 if vcap is None else vcap]
        return out


@dataclass(frozen=True)
class Held:
    """What one reservation holds: lines, drop unit numbers, and unit numbers per capped
    variant. The same shape comes back from PostgreSQL for a rebuild."""

    lines: list[tuple[int, int]]
    units: list[int]
    variant_units: dict[int, list[int]] = field(default_factory=dict)
    team_id: int | None = None  # the team whose seat this order takes

    def record(self, member_id: int, at_ms: int = 0) -> str:
        lines = ",".join(f"{v}:{q}" for v, q in self.lines)
        units = ",".join(map(str, self.units))
        vunits = ";".join(
            f"{v}:{','.join(map(str, us))}" for v, us in sorted(self.variant_units.items())
        )
        team = "" if self.team_id is None else str(self.team_id)
        return f"{member_id}|{at_ms}|{lines}|{units}|{vunits}|{team}"

    @classmethod
    def parse(cls, record: str) -> Held:
        _, _, lines, units, vunits, *rest = record.split("|")
        return cls(
            team_id=int(rest[0]) if rest and rest[0] else None,
            lines=[(int(v), int(q)) for v, q in (x.split(":") for x in lines.split(",") if x)],
            units=[int(u) for u in units.split(",") if u],
            variant_units={
                int(v): [int(u) for u in us.split(",") if u]
                for v, us in (x.split(":") for x in vunits.split(";") if x)
            },
        )


@dataclass(frozen=True)
class Refusal:
    code: str  # NOT_OPEN, NOT_OPEN_YET, CLOSED, TEAM_FULL, MEMBER_LIMIT, DROP_CAP, VARIANT_CAP,
    # UNKNOWN_VARIANT
    remaining: int | None = None
    variant_id: int | None = None
    opens_ms: int | None = None  # NOT_OPEN / NOT_OPEN_YET: when this member may buy


@dataclass(frozen=True)
class Progress:
    reserved: int
    buyers: int
    per_variant: dict[int, int]


@dataclass(frozen=True)
class Reservation:
    """A live order's hold, as PostgreSQL knows it (what a rebuild puts back)."""

    order_id: int
    member_id: int
    held: Held


class NotReady(Exception):
    """No counters this Redis can vouch for: missing, or written by another Redis process."""


def _free(held: Iterable[int]) -> tuple[int, list[int]]:
    """The high-water mark of held unit numbers, and the numbers below it nobody holds."""
    taken = sorted(set(held))
    hw = taken[-1] if taken else 0
    holes: list[int] = []
    expected = 1
    for u in taken:
        holes.extend(range(expected, u))
        expected = u + 1
    return hw, holes


def _reserved(drop_id: int, out: Any) -> Held | Refusal | NotReady:
    status = int(out[0])
    if status in (1, 2):
        return Held.parse(str(out[2]))
    if status == -1:
        return NotReady(drop_id)
    if status == -2:
        opens = int(out[1]) if len(out) > 1 else None
        early_for_others = len(out) > 2 and int(out[2]) == 1
        return Refusal("NOT_OPEN_YET" if early_for_others else "NOT_OPEN", opens_ms=opens)
    if status == -3:
        return Refusal("CLOSED")
    if status == -4:
        return Refusal("MEMBER_LIMIT", remaining=max(0, int(out[1])))
    if status == -5:
        return Refusal("DROP_CAP", remaining=max(0, int(out[1])))
    if status == -6:
        return Refusal("VARIANT_CAP", variant_id=int(out[1]), remaining=max(0, int(out[2])))
    if status == -8:
        return Refusal("TEAM_FULL")
    return Refusal("UNKNOWN_VARIANT", variant_id=int(out[1]))


class ReservationStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._reserve = redis.register_script(RESERVE)
        self._release = redis.register_script(RELEASE)
        self._rebuild = redis.register_script(REBUILD)
        self._progress = redis.register_script(PROGRESS)
        self._state = redis.register_script(STATE)
        self._vouched = redis.register_script(f"return {VOUCHED} and 1 or 0")
        self._sold_out = redis.register_script(SOLD_OUT)
        # Drops this process saw refuse for their cap lately (drop id -> monotonic time): only
        # their requests are checked before an order is written, so a selling drop pays nothing.
        self._full: dict[int, float] = {}

    def seen_full(self, drop_id: int) -> None:
        if len(self._full) >= FULL_HINTS_KEPT and drop_id not in self._full:
            self._full.clear()  # hints only: losing them costs one normal road per drop
        self._full[drop_id] = time.monotonic()

    def maybe_full(self, drop_id: int) -> bool:
        seen = self._full.get(drop_id)
        if seen is None:
            return False
        if time.monotonic() - seen > FULL_HINT_SECONDS:
            del self._full[drop_id]
            return False
        return True

    async def cap_refusals(
        self, requests: Sequence[tuple[int, int, Sequence[tuple[int, int]]]]
    ) -> list[int | None]:
        """For many (drop, member, lines): the units remaining when the reservation script
        would refuse the request for its drop's cap right now, else None (another outcome:
        the request takes the normal road). One round trip, nothing written."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for drop_id, member_id, lines in requests:
                args: list[str | int] = [member_id, sum(q for _, q in lines)]
                args += [v for v, _ in lines]
                await self._sold_out(keys=keys(drop_id)[:5], args=args, client=pipe)
            outs = await pipe.execute()
        found: list[int | None] = []
        for (drop_id, _, _), out in zip(requests, outs, strict=True):
            if int(out) < 0:
                found.append(None)
            else:
                self.seen_full(drop_id)
                found.append(int(out))
        return found

    async def reserve(
        self,
        drop_id: int,
        order_id: int,
        member_id: int,
        lines: Sequence[tuple[int, int]],
        team: tuple[int, int] | None = None,
    ) -> Held | Refusal:
        """The units now held under ``order_id`` (or already held under it), or a Refusal.
        ``team`` (id, size): the order also takes a seat of that team, refused (TEAM_FULL) when
        none is free. Raises NotReady when the counters must be rebuilt first."""
        keys_, args = self._reserve_call(drop_id, order_id, member_id, lines, team)
        out = _reserved(drop_id, await self._reserve(keys=keys_, args=args))
        if isinstance(out, NotReady):
            raise out
        if isinstance(out, Refusal) and out.code == "DROP_CAP":
            self.seen_full(drop_id)
        return out

    async def reserve_many(
        self, orders: Sequence[tuple[int, int, int, Sequence[tuple[int, int]]]]
    ) -> list[Held | Refusal | NotReady]:
        """``reserve`` for many (drop, order, member, lines) in one round trip; a NotReady in
        place of an order whose drop's counters must be rebuilt first."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for drop_id, order_id, member_id, lines in orders:
                keys_, args = self._reserve_call(drop_id, order_id, member_id, lines)
                await self._reserve(keys=keys_, args=args, client=pipe)
            outs = await pipe.execute()
        found = [_reserved(o[0], out) for o, out in zip(orders, outs, strict=True)]
        for o, out in zip(orders, found, strict=True):
            if isinstance(out, Refusal) and out.code == "DROP_CAP":
                self.seen_full(o[0])
        return found

    @staticmethod
    def _reserve_call(
        drop_id: int,
        order_id: int,
        member_id: int,
        lines: Sequence[tuple[int, int]],
        team: tuple[int, int] | None = None,
    ) -> tuple[list[str], list[str | int]]:
        seat = "" if team is None else f"{team[0]}:{team[1]}"
        args: list[str | int] = [order_id, member_id, channel(drop_id), seat]
        for variant_id, qty in lines:
            args += [variant_id, qty]
        free_keys = [variant_free_key(drop_id, v) for v, _ in lines]
        return keys(drop_id) + free_keys, args

    async def release_many(self, orders: Sequence[tuple[int, int]]) -> None:
        """``release`` for many (drop, order) in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for drop_id, order_id in orders:
                await self._release(
                    keys=keys(drop_id), args=[order_id, channel(drop_id)], client=pipe
                )
            await pipe.execute()

    async def release(self, drop_id: int, order_id: int) -> bool:
        return bool(await self._release(keys=keys(drop_id), args=[order_id, channel(drop_id)]))

    async def team_seats(self, drop_id: int, team_id: int) -> int:
        """Seats of the team that Redis counts as taken."""
        return int(await self.redis.hget(f"{_tag(drop_id)}:teams", str(team_id)) or 0)

    async def has(self, drop_id: int, order_id: int) -> bool:
        return bool(await self.redis.hexists(keys(drop_id)[5], str(order_id)))

    async def rebuild(
        self,
        drop_id: int,
        limits: Limits,
        reservations: Iterable[Reservation],
        voters: Sequence[int] = (),
    ) -> int:
        live = list(reservations)
        hw, holes = _free(u for r in live for u in r.held.units)
        unit_fields: list[str | int] = ["hw", hw]
        free_args: list[str | int] = [":free", len(holes), *holes]
        per_variant: dict[int, list[int]] = {}
        for r in live:
            for v, us in r.held.variant_units.items():
                per_variant.setdefault(v, []).extend(us)
        stale = await self._variant_free_keys(drop_id)
        for v in limits.variant_caps:
            vhw, vholes = _free(per_variant.get(v, []))
            unit_fields += [f"v:{v}", vhw]
            free_args += [f":vfree:{v}", len(vholes), *vholes]
        for key in stale:  # free sets of variants the drop no longer has
            free_args += [key.rsplit("}", 1)[1], 0]
        free_args += [":voters", len(voters), *voters]  # replaced like a free set
        fields = limits.fields()
        args: list[str | int] = [channel(drop_id), len(fields) // 2, *fields]
        args += [len(unit_fields) // 2, *unit_fields, *free_args, "--"]
        for r in live:
            args += [r.order_id, r.held.record(r.member_id)]
        return int(await self._rebuild(keys=keys(drop_id), args=args))

    async def _variant_free_keys(self, drop_id: int) -> list[str]:
        pattern = f"{_tag(drop_id)}:vfree:*"
        return [str(k) async for k in self.redis.scan_iter(match=pattern, count=1000)]

    async def progress(self, drop_id: int) -> Progress:
        out = await self._progress(keys=keys(drop_id)[:5])
        if int(out[0]) != 1:
            raise NotReady(drop_id)
        variants = out[3]
        return Progress(
            int(out[1]),
            int(out[2]),
            {int(variants[i]): int(variants[i + 1]) for i in range(0, len(variants), 2)},
        )

    async def state(self, drop_id: int) -> tuple[int, set[str]] | None:
        """(units reserved, order ids holding them), or None when not vouched for: what the
        reconciler compares with PostgreSQL."""
        out = await self._state(keys=keys(drop_id))
        if int(out[0]) != 1:
            return None
        return int(out[1]), {str(o) for o in out[2]}

    async def is_ready(self, drop_id: int) -> bool:
        return bool(await self._vouched(keys=keys(drop_id)[:1]))

    async def stop_selling(self, drop_id: int) -> None:
        """Remove the marker: reservations are refused until the next rebuild."""
        await self.redis.delete(keys(drop_id)[0])
