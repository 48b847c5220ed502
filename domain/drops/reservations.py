"""Capped reservations of a drop in Redis. PostgreSQL (the orders) is the truth; these keys are
rebuilt from it at any moment.

Keys share the hash tag ``{drop:<id>}`` (one Redis Cluster slot):

* ``limits``   hash: ``opens``/``closes`` (epoch ms), ``cap``, ``member_limit``, and per variant
  ``v:<id>`` = its cap (or -1 when it has none). Only variants listed here can be reserved.
* ``total``    reserved units of the drop;
* ``variant``  hash variant -> reserved units;
* ``member``   hash member -> reserved units (its length is the number of buyers);
* ``res``      hash order -> ``"<member>|<ms>|<variant>:<qty>,..."``: each reservation under its
  order id, so it can be released exactly once and phantoms can be found;
* ``ready``    marker written by a rebuild. Without it the scripts refuse (``NOT_READY``): a Redis
  that restarted empty cannot tell "nothing sold" from "never counted".

One script checks the window, the per-member limit, the variant caps and the drop cap, and
reserves, atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if redis.call('HEXISTS', KEYS[6], ARGV[1]) == 1 then return {2} end
local lim = redis.call('HGETALL', KEYS[2])
local L = {}
for i = 1, #lim, 2 do L[lim[i]] = tonumber(lim[i + 1]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < L['opens'] then return {-2} end
if now >= L['closes'] then return {-3} end
local qty = 0
for i = 4, #ARGV, 2 do
  local v = ARGV[i]
  if L['v:' .. v] == nil then return {-7, tonumber(v)} end
  qty = qty + tonumber(ARGV[i + 1])
end
local mine = tonumber(redis.call('HGET', KEYS[5], ARGV[2]) or '0')
if mine + qty > L['member_limit'] then return {-4, L['member_limit'] - mine} end
local total = tonumber(redis.call('GET', KEYS[3]) or '0')
if total + qty > L['cap'] then return {-5, L['cap'] - total} end
for i = 4, #ARGV, 2 do
  local vcap = L['v:' .. ARGV[i]]
  if vcap >= 0 then
    local used = tonumber(redis.call('HGET', KEYS[4], ARGV[i]) or '0')
    if used + tonumber(ARGV[i + 1]) > vcap then return {-6, tonumber(ARGV[i]), vcap - used} end
  end
end
local rec = {}
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1])
  rec[#rec + 1] = ARGV[i] .. ':' .. ARGV[i + 1]
end
redis.call('INCRBY', KEYS[3], qty)
redis.call('HINCRBY', KEYS[5], ARGV[2], qty)
redis.call('HSET', KEYS[6], ARGV[1], ARGV[2] .. '|' .. now .. '|' .. table.concat(rec, ','))
redis.call('PUBLISH', ARGV[3], '1')
return {1, L['cap'] - total - qty}
"""

RELEASE = """
local rec = redis.call('HGET', KEYS[6], ARGV[1])
if not rec then return 0 end
local member, _, lines = string.match(rec, '^([^|]+)|([^|]+)|(.*)$')
local qty = 0
for v, q in string.gmatch(lines, '(%d+):(%d+)') do
  redis.call('HINCRBY', KEYS[4], v, -tonumber(q))
  qty = qty + tonumber(q)
end
redis.call('DECRBY', KEYS[3], qty)
if redis.call('HINCRBY', KEYS[5], member, -qty) <= 0 then redis.call('HDEL', KEYS[5], member) end
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('PUBLISH', ARGV[2], '1')
return 1
"""

# Replace everything with a snapshot from PostgreSQL: ARGV[1] = channel, ARGV[2] = number of
# limit fields n, then n field/value pairs, then reservations as order, record triples.
REBUILD = """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local n = tonumber(ARGV[2])
local i = 3
for _ = 1, n do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local total = 0
while i <= #ARGV do
  local order, member, lines = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local qty = 0
  for v, q in string.gmatch(lines, '(%d+):(%d+)') do
    redis.call('HINCRBY', KEYS[4], v, tonumber(q))
    qty = qty + tonumber(q)
  end
  redis.call('HINCRBY', KEYS[5], member, qty)
  redis.call('HSET', KEYS[6], order, member .. '|0|' .. lines)
  total = total + qty
  i = i + 3
end
redis.call('SET', KEYS[3], total)
redis.call('SET', KEYS[1], '1')
redis.call('PUBLISH', ARGV[1], '1')
return total
"""


def keys(drop_id: int) -> list[str]:
    tag = f"c2m:{{drop:{drop_id}}}"
    return [
        f"{tag}:ready",
        f"{tag}:limits",
        f"{tag}:total",
        f"{tag}:variant",
        f"{tag}:member",
        f"{tag}:res",
    ]


def channel(drop_id: int) -> str:
    return f"c2m:{{drop:{drop_id}}}:changed"


@dataclass(frozen=True)
class Limits:
    opens_ms: int
    closes_ms: int
    cap: int
    member_limit: int
    variant_caps: dict[int, int | None]

    def fields(self) -> list[str | int]:
        out: list[str | int] = [
            "opens",
            self.opens_ms,
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
class Refusal:
    code: str  # NOT_READY, NOT_OPEN, CLOSED, MEMBER_LIMIT, DROP_CAP, VARIANT_CAP, UNKNOWN_VARIANT
    remaining: int | None = None
    variant_id: int | None = None


@dataclass(frozen=True)
class Progress:
    reserved: int
    buyers: int
    per_variant: dict[int, int]


class NotReady(Exception):
    pass


def _lines(lines: Sequence[tuple[int, int]]) -> str:
    return ",".join(f"{v}:{q}" for v, q in lines)


class ReservationStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._reserve = redis.register_script(RESERVE)
        self._release = redis.register_script(RELEASE)
        self._rebuild = redis.register_script(REBUILD)

    async def reserve(
        self, drop_id: int, order_id: int, member_id: int, lines: Sequence[tuple[int, int]]
    ) -> Refusal | None:
        """None when reserved (or already reserved under this order); a Refusal otherwise."""
        args: list[str | int] = [order_id, member_id, channel(drop_id)]
        for variant_id, qty in lines:
            args += [variant_id, qty]
        out = await self._reserve(keys=keys(drop_id), args=args)
        status = int(out[0])
        if status in (1, 2):
            return None
        if status == -1:
            raise NotReady(drop_id)
        if status == -2:
            return Refusal("NOT_OPEN")
        if status == -3:
            return Refusal("CLOSED")
        if status == -4:
            return Refusal("MEMBER_LIMIT", remaining=max(0, int(out[1])))
        if status == -5:
            return Refusal("DROP_CAP", remaining=max(0, int(out[1])))
        if status == -6:
            return Refusal("VARIANT_CAP", variant_id=int(out[1]), remaining=max(0, int(out[2])))
        return Refusal("UNKNOWN_VARIANT", variant_id=int(out[1]))

    async def release(self, drop_id: int, order_id: int) -> bool:
        return bool(await self._release(keys=keys(drop_id), args=[order_id, channel(drop_id)]))

    async def has(self, drop_id: int, order_id: int) -> bool:
        return bool(await self.redis.hexists(keys(drop_id)[5], str(order_id)))

    async def rebuild(
        self,
        drop_id: int,
        limits: Limits,
        reservations: Iterable[tuple[int, int, Sequence[tuple[int, int]]]],
    ) -> int:
        fields = limits.fields()
        args: list[str | int] = [channel(drop_id), len(fields) // 2, *fields]
        for order_id, member_id, lines in reservations:
            args += [order_id, member_id, _lines(lines)]
        return int(await self._rebuild(keys=keys(drop_id), args=args))

    async def progress(self, drop_id: int) -> Progress:
        k = keys(drop_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(k[0])
            pipe.get(k[2])
            pipe.hlen(k[4])
            pipe.hgetall(k[3])
            ready, total, buyers, variants = await pipe.execute()
        if not ready:
            raise NotReady(drop_id)
        return Progress(int(total or 0), int(buyers), {int(v): int(q) for v, q in variants.items()})

    async def is_ready(self, drop_id: int) -> bool:
        return bool(await self.redis.exists(keys(drop_id)[0]))

    async def stop_selling(self, drop_id: int) -> None:
        """Remove the marker: reservations are refused until the next rebuild."""
        await self.redis.delete(keys(drop_id)[0])
