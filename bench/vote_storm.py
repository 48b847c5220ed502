"""Vote storm: thousands of distinct members voting (some re-voting) on one poll at high
concurrency through the HTTP GraphQL endpoint, and the same work through a bare Starlette
endpoint, in one run. Afterwards the Redis tallies must equal the PostgreSQL ballots exactly.

    python -m bench.vote_storm [--members 3000] [--revote 0.2] [--concurrency 64]

Uses embedded PostgreSQL and Valkey in a temporary directory unless C2M_DATABASE_URL and
C2M_REDIS_URL are set (then it creates its own rows there). Loopback only.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench import common, loadgen
from bench.common import SECRET, gid
from domain.community.models import Community, CommunityMember, MembershipStatus
from domain.identity.models import User
from domain.identity.tokens import TokenIssuer
from domain.polls import repository as poll_repo
from domain.polls.live import LivePolls
from domain.polls.models import Poll, PollCommunity, PollOption, PollStatus
from infra.config import Settings
from infra.resources import make_engine, make_redis, make_sessionmaker

VOTE = (
    "mutation Vote($p: ID!, $o: [ID!]!) { castVote(pollId: $p, optionIds: $o) "
    "{ changed errors { code } } }"
)
OPTIONS = 10


async def seed(db_url: str, members: int) -> tuple[list[int], dict[str, tuple[int, list[int]]]]:
    settings = Settings(secret_key=SECRET)
    engine = make_engine(settings, db_url, pool_size=2)
    sm = make_sessionmaker(engine)
    now = datetime.now(UTC)
    tag = f"bench-{int(time.time())}"
    async with sm() as session, session.begin():
        koc = (
            await session.execute(
                insert(User)
                .values(wechat_openid=f"{tag}-koc", display_name="KOC", is_koc=True)
                .returning(User.id)
            )
        ).scalar_one()
        rows = [{"wechat_openid": f"{tag}-{i}", "display_name": f"m{i}"} for i in range(members)]
        user_ids = list((await session.execute(insert(User).returning(User.id), rows)).scalars())
        community = (
            await session.execute(
                insert(Community)
                .values(owner_id=koc, name="bench", description="")
                .returning(Community.id)
            )
        ).scalar_one()
        await session.execute(
            insert(CommunityMember),
            [
                {"community_id": community, "user_id": u, "status": MembershipStatus.ACTIVE}
                for u in user_ids
            ],
        )
        polls: dict[str, tuple[int, list[int]]] = {}
        for name in ("graphql", "bare"):
            poll = (
                await session.execute(
                    insert(Poll)
                    .values(
                        owner_id=koc,
                        title=f"bench {name}",
                        description="",
                        status=PollStatus.OPEN,
                        opens_at=now - timedelta(minutes=1),
                        closes_at=now + timedelta(hours=2),
                        max_choices=3,
                        advance_count=5,
                        published_at=now,
                    )
                    .returning(Poll.id)
                )
            ).scalar_one()
            await session.execute(
                insert(PollCommunity).values(poll_id=poll, community_id=community)
            )
            opts = list(
                (
                    await session.execute(
                        insert(PollOption).returning(PollOption.id),
                        [
                            {
                                "poll_id": poll,
                                "position": i,
                                "title": f"S{i}",
                                "image_urls": ["https://x/y.jpg"],
                                "designer_notes": "",
                                "currency": "CNY",
                            }
                            for i in range(OPTIONS)
                        ],
                    )
                ).scalars()
            )
            polls[name] = (poll, opts)
    await common.analyze(engine)
    await engine.dispose()
    return user_ids, polls


def plan(
    user_ids: list[int], options: list[int], revote: float, seed: int
) -> list[tuple[int, list[int]]]:
    rng = random.Random(seed)
    votes = [(u, sorted(rng.sample(options, rng.randint(1, 3)))) for u in user_ids]
    again = [
        (u, sorted(rng.sample(options, rng.randint(1, 3))))
        for u in rng.sample(user_ids, int(len(user_ids) * revote))
    ]
    return votes + again


async def verify(db_url: str, redis_url: str, poll_id: int) -> tuple[bool, int, dict[int, int]]:
    settings = Settings(secret_key=SECRET)
    engine = make_engine(settings, db_url, pool_size=2)
    sm = make_sessionmaker(engine)
    redis = make_redis(Settings(secret_key=SECRET), redis_url)
    try:
        async with sm() as session:
            truth, voters = await poll_repo.counts(session, poll_id)
        live = await LivePolls(sm, redis).store.read(poll_id)
        equal = live.voters == voters and {k: v for k, v in live.counts.items() if v} == truth
        return equal, voters, truth
    finally:
        await redis.aclose()
        await engine.dispose()


def ok_graphql(status: int, body: bytes) -> bool:
    return status == 200 and b'"errors":[]' in body


def ok_bare(status: int, body: bytes) -> bool:
    return status == 200 and b'"changed"' in body


async def storm(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, object]:
    user_ids, polls = await seed(db_url, args.members)
    issuer = TokenIssuer(SECRET, 3600 * 4)
    tokens = {u: issuer.issue(u).token for u in user_ids}
    with common.api_and_bare(db_url, redis_url, args.workers) as (api, gql_port, bare, bare_port):
        results: dict[str, object] = {}
        profilers = common.profile(args, {"graphql": api, "bare": bare})
        for name in ("graphql", "bare"):
            poll_id, options = polls[name]
            votes = plan(user_ids, options, args.revote, seed=42)
            if name == "graphql":
                port = gql_port
                reqs = [
                    loadgen.build_request(
                        "127.0.0.1",
                        port,
                        "/graphql",
                        {
                            "query": VOTE,
                            "operationName": "Vote",
                            "variables": {
                                "p": gid("Poll", poll_id),
                                "o": [gid("PollOption", o) for o in picks],
                            },
                        },
                        {"Authorization": f"Bearer {tokens[u]}"},
                    )
                    for u, picks in votes
                ]
                check = ok_graphql
            else:
                port = bare_port
                reqs = [
                    loadgen.build_request(
                        "127.0.0.1",
                        port,
                        "/vote",
                        {"pollId": poll_id, "optionIds": picks},
                        {"Authorization": f"Bearer {tokens[u]}"},
                    )
                    for u, picks in votes
                ]
                check = ok_bare
            # Warm up on a few members of this poll (their ballots count like any other).
            await loadgen.run("127.0.0.1", port, reqs[:100], 8, check)
            out = await loadgen.run("127.0.0.1", port, reqs[100:], args.concurrency, check)
            equal, voters, _ = await verify(db_url, redis_url, poll_id)
            results[name] = {
                "requests": len(reqs) - 100,
                "ok": out.ok,
                "failed": out.failed,
                "seconds": round(out.elapsed, 2),
                "votes_per_s": round(out.rate, 1),
                "p50_ms": round(out.percentile(50) * 1000, 1),
                "p99_ms": round(out.percentile(99) * 1000, 1),
                "voters_in_postgres": voters,
                "redis_equals_postgres": equal,
            }
        for profiler in profilers:
            profiler.wait()
        g, b = results["graphql"], results["bare"]
        results["graphql_to_bare_ratio"] = round(g["votes_per_s"] / b["votes_per_s"], 2)  # type: ignore[index,operator]
        return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--revote", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    common.storm_options(parser, profile_seconds=40)
    args = parser.parse_args()
    common.run(storm, args)


if __name__ == "__main__":
    main()
