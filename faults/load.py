"""A steady load of votes, pre-orders and payments through the GraphQL API, as members' phones
would send them: each request retried with the same idempotency key (or the same ballot) when it
fails for want of an answer, and every acknowledged result written down."""

from __future__ import annotations

import asyncio
import base64
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from domain.community.models import Community, CommunityMember, MembershipStatus
from domain.drops.models import Drop, DropCommunity, DropStatus, DropVariant, PaymentMode
from domain.identity.models import User
from domain.identity.tokens import TokenIssuer
from domain.polls.models import Poll, PollCommunity, PollOption, PollStatus
from infra.config import Settings
from infra.resources import make_engine, make_sessionmaker

VOTE = (
    "mutation Vote($p: ID!, $o: [ID!]!) { castVote(pollId: $p, optionIds: $o) "
    "{ changed errors { code } } }"
)
PLACE = (
    "mutation Place($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!)"
    " { placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a)"
    " { order { id quantity } errors { code } } }"
)
PAY = "mutation Pay($o: ID!) { payOrder(orderId: $o) { params { package } errors { code } } }"
ADDRESS = {"name": "Li", "phone": "13800000000", "region": "Hangzhou", "detail": "Road 1"}


def gid(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


def pk_of(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


@dataclass
class Scene:
    """What the load works on (seeded straight into PostgreSQL, like a busy day's state)."""

    members: list[int]
    spare: int  # a member outside the load, for probes
    tokens: dict[int, str]
    koc_token: str
    poll_id: int
    options: list[int]
    drop_id: int
    variants: list[int]
    cap: int
    variant_caps: dict[int, int]
    member_limit: int


async def seed(
    database_url: str, secret: str, *, members: int = 400, cap: int = 600, member_limit: int = 2
) -> Scene:
    engine = make_engine(Settings(secret_key=secret), database_url, pool_size=2)
    sm = make_sessionmaker(engine)
    now = datetime.now(UTC)
    tag = f"f{int(time.time() * 1000)}"
    try:
        async with sm() as session, session.begin():

            async def one(table: Any, **values: Any) -> int:
                stmt = insert(table).values(**values).returning(table.id)
                return int((await session.execute(stmt)).scalar_one())

            koc = await one(User, wechat_openid=f"{tag}-koc", display_name="KOC", is_koc=True)
            users = list(
                (
                    await session.execute(
                        insert(User).returning(User.id),
                        [
                            {"wechat_openid": f"{tag}-{i}", "display_name": f"m{i}"}
                            for i in range(members + 1)
                        ],
                    )
                ).scalars()
            )
            community = await one(Community, owner_id=koc, name="faults", description="")
            await session.execute(
                insert(CommunityMember),
                [
                    {"community_id": community, "user_id": u, "status": MembershipStatus.ACTIVE}
                    for u in users
                ],
            )
            poll = await one(
                Poll,
                owner_id=koc,
                title="faults",
                description="",
                status=PollStatus.OPEN,
                opens_at=now - timedelta(minutes=1),
                closes_at=now + timedelta(hours=2),
                max_choices=2,
                advance_count=2,
                published_at=now,
            )
            await session.execute(
                insert(PollCommunity).values(poll_id=poll, community_id=community)
            )
            options = list(
                (
                    await session.execute(
                        insert(PollOption).returning(PollOption.id),
                        [
                            {
                                "poll_id": poll,
                                "position": i,
                                "title": f"S{i}",
                                "image_urls": ["https://img.example/x.jpg"],
                                "designer_notes": "",
                                "currency": "CNY",
                                "advanced": False,
                            }
                            for i in range(5)
                        ],
                    )
                ).scalars()
            )
            drop = await one(
                Drop,
                owner_id=koc,
                title="faults",
                description="",
                image_urls=[],
                size_chart="",
                status=DropStatus.OPEN,
                currency="CNY",
                price_fen=10000,
                tiers=[],
                payment_mode=PaymentMode.FULL,
                moq=cap,
                cap=cap,
                per_member_limit=member_limit,
                opens_at=now - timedelta(minutes=1),
                closes_at=now + timedelta(hours=2),
                unpaid_expiry_seconds=3600,
                keep_deposit_on_default=True,
                balance_hours=48,
                published_at=now,
            )
            await session.execute(
                insert(DropCommunity).values(drop_id=drop, community_id=community)
            )
            variant_caps = {0: cap // 4, 1: cap // 4}
            variants = list(
                (
                    await session.execute(
                        insert(DropVariant).returning(DropVariant.id),
                        [
                            {
                                "drop_id": drop,
                                "position": i,
                                "size": size,
                                "color": "black",
                                "cap": variant_caps.get(i),
                            }
                            for i, size in enumerate(("S", "M", "L", "XL"))
                        ],
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    issuer = TokenIssuer(secret, 24 * 3600)
    return Scene(
        members=users[1:],
        spare=users[0],
        tokens={u: issuer.issue(u).token for u in users},
        koc_token=issuer.issue(koc).token,
        poll_id=poll,
        options=options,
        drop_id=drop,
        variants=variants,
        cap=cap,
        variant_caps={variants[i]: c for i, c in variant_caps.items()},
        member_limit=member_limit,
    )


@dataclass
class Record:
    """What the members were told, and what they tried."""

    acked_orders: set[int] = field(default_factory=set)
    paid_orders: set[int] = field(default_factory=set)
    # member -> ballots in the order they were sent, and the index of the last acknowledged one
    ballots: dict[int, list[list[int]]] = field(default_factory=dict)
    last_acked_ballot: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    acknowledged: int = 0
    retried: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    unavailable: int = 0


class Load:
    def __init__(self, api_url: str, scene: Scene, *, clients: int = 16, seed: int = 7) -> None:
        self.api_url = api_url
        self.scene = scene
        self.clients = clients
        self.record = Record()
        self._stop = asyncio.Event()
        self._rng = random.Random(seed)
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            base_url=self.api_url, timeout=10, limits=httpx.Limits(max_connections=self.clients)
        )
        members = list(self.scene.members)
        for i in range(self.clients):
            mine = members[i :: self.clients]
            self._tasks.append(asyncio.create_task(self._client(mine, random.Random(i))))

    async def stop(self) -> Record:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
        return self.record

    async def _send(self, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One request, retried (same body) while the answer is missing or says UNAVAILABLE:
        what a client of an idempotent API does. Returns the mutation's payload, or {}."""
        assert self._http is not None
        self.record.requests += 1
        for attempt in range(8):
            try:
                resp = await self._http.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"authorization": f"Bearer {token}"},
                )
                body = resp.json()
            except (httpx.HTTPError, ValueError):
                body = None
            if body is not None and body.get("data"):
                payload: dict[str, Any] = next(iter(body["data"].values()))
                return payload
            self.record.unavailable += 1
            if attempt:
                self.record.retried += 1
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        return {}

    async def _client(self, members: list[int], rng: random.Random) -> None:
        s = self.scene
        n = 0
        while not self._stop.is_set():
            member = members[n % len(members)]
            n += 1
            token = s.tokens[member]
            if rng.random() < 0.6:
                picks = sorted(rng.sample(s.options, rng.randint(1, 2)))
                sent = self.record.ballots.setdefault(member, [])
                sent.append(picks)
                out = await self._send(
                    token,
                    VOTE,
                    {"p": gid("Poll", s.poll_id), "o": [gid("PollOption", o) for o in picks]},
                )
                if out and out.get("errors") == []:
                    self.record.acknowledged += 1
                    self.record.last_acked_ballot[member] = len(sent) - 1
            else:
                variant = rng.choice(s.variants)
                key = f"{member}-{n}"
                out = await self._send(
                    token,
                    PLACE,
                    {
                        "d": gid("Drop", s.drop_id),
                        "l": [{"variantId": gid("DropVariant", variant), "quantity": 1}],
                        "k": key,
                        "a": ADDRESS,
                    },
                )
                if out and out.get("order"):
                    self.record.acknowledged += 1
                    order_id = pk_of(out["order"]["id"])
                    self.record.acked_orders.add(order_id)
                    paid = await self._send(token, PAY, {"o": out["order"]["id"]})
                    if paid and paid.get("errors") == []:
                        self.record.paid_orders.add(order_id)
                elif out and out.get("errors"):
                    code = out["errors"][0]["code"]
                    self.record.refused[code] = self.record.refused.get(code, 0) + 1
            await asyncio.sleep(0.01)


async def probe(api_url: str, token: str, poll_id: int, option: int, seconds: float) -> float:
    """How long until a vote goes through again: the time the system took to recover."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=api_url, timeout=2) as http:
        while time.monotonic() - started < seconds:
            try:
                resp = await http.post(
                    "/graphql",
                    json={
                        "query": VOTE,
                        "variables": {"p": gid("Poll", poll_id), "o": [gid("PollOption", option)]},
                    },
                    headers={"authorization": f"Bearer {token}"},
                )
                payload = (resp.json().get("data") or {}).get("castVote") or {}
                if payload.get("errors") == []:
                    return time.monotonic() - started
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"not recovered within {seconds} s")
