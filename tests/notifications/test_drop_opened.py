"""Voted -> notified: the members who voted for a style hear first when it opens; each member is
notified at most once, even when jobs run twice or race."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from domain.notifications import delivery, outbox
from domain.notifications.models import Delivery, DeliveryStatus, NotificationKind
from domain.notifications.wechat import SandboxSubscribeMessages, SendFailed, SubscribeMessage
from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_DROP,
    PUBLISH_DROP,
    VOTE,
    drop_input,
    make_community,
    make_koc,
    make_open_poll,
    members,
    pk,
)

INBOX = """{ unreadNotificationCount myNotifications { nodes { id title body votedForIt } } }"""


async def _opened_drop(client: GraphQLClient, operator_token: str) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 5, prefix="fan")
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]], advance=1)
    winner = poll["options"][0]["id"]
    for t in tokens[:2]:
        await client.query(VOTE, {"p": poll["id"], "o": [winner]}, token=t)
    await client.query(VOTE, {"p": poll["id"], "o": [poll["options"][1]["id"]]}, token=tokens[2])
    close = "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }"
    await client.query(close, {"p": poll["id"]}, token=koc["accessToken"])
    # Member 4 opts out before the drop opens.
    opt = """mutation { setNotificationOptOut(kind: DROP_OPENED, optedOut: true) {
      optedOut errors { code } } }"""
    assert (await client.query(opt, token=tokens[4]))["setNotificationOptOut"]["optedOut"]
    data = drop_input([community["id"]])
    data["pollOptionId"] = winner
    drop = (await client.query(CREATE_DROP, {"i": data}, token=koc["accessToken"]))["createDrop"][
        "drop"
    ]
    pub = await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=koc["accessToken"])
    assert pub["publishDrop"]["drop"]["status"] == "OPEN"
    return {"koc": koc, "tokens": tokens, "drop": drop}


async def test_voters_first_then_the_community_once_each(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _opened_drop(client, operator_token)
    drop_id = pk(s["drop"]["id"])
    # The job runs at least once: run it twice, and twice at the same time.
    made = await asyncio.gather(
        *[
            outbox.expand(services.sessionmaker, NotificationKind.DROP_OPENED, drop_id)
            for _ in range(3)
        ]
    )
    assert sum(made) == 4  # members 0..3 (member 4 opted out)
    voter = await client.query(INBOX, token=s["tokens"][0])
    assert voter["unreadNotificationCount"] == 1
    assert voter["myNotifications"]["nodes"][0]["votedForIt"] is True
    other = await client.query(INBOX, token=s["tokens"][2])
    assert other["myNotifications"]["nodes"][0]["votedForIt"] is False
    opted = await client.query(INBOX, token=s["tokens"][4])
    assert opted["myNotifications"]["nodes"] == []

    sender = SandboxSubscribeMessages()
    sent = await asyncio.gather(
        *[delivery.deliver_pending(services.sessionmaker, sender, "tpl") for _ in range(3)]
    )
    assert sum(sent) == 4 and len(sender.sent) == 4
    # Voters' messages went out first.
    first_two = {m.openid for m in sender.sent[:2]}
    assert first_two == {"fan-0", "fan-1"}
    assert await delivery.deliver_pending(services.sessionmaker, sender, "tpl") == 0
    assert len(sender.sent) == 4

    mark = "mutation { markNotificationsRead { marked errors { code } } }"
    assert (await client.query(mark, token=s["tokens"][0]))["markNotificationsRead"]["marked"] == 1
    assert (await client.query(INBOX, token=s["tokens"][0]))["unreadNotificationCount"] == 0


class Flaky:
    """Fails the first attempt of every message (a WeChat hiccup), then accepts."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.sent: list[SubscribeMessage] = []

    async def send(self, message: SubscribeMessage) -> None:
        if message.openid not in self.seen:
            self.seen.add(message.openid)
            raise SendFailed("503", permanent=False)
        self.sent.append(message)


async def test_failed_sends_are_retried_with_backoff_and_sent_once(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _opened_drop(client, operator_token)
    await outbox.expand(services.sessionmaker, NotificationKind.DROP_OPENED, pk(s["drop"]["id"]))
    flaky = Flaky()
    assert await delivery.deliver_pending(services.sessionmaker, flaky, "tpl") == 0
    async with services.sessionmaker() as session:
        rows = (await session.execute(select(Delivery))).scalars().all()
    assert all(r.status is DeliveryStatus.PENDING and r.attempts == 1 for r in rows)
    assert all(
        r.next_attempt_at > r.next_attempt_at.__class__.now(r.next_attempt_at.tzinfo) for r in rows
    )
    async with services.sessionmaker() as session, session.begin():
        await session.execute(
            Delivery.__table__.update().values(
                next_attempt_at=Delivery.next_attempt_at - __import__("datetime").timedelta(hours=1)
            )
        )
    assert await delivery.deliver_pending(services.sessionmaker, flaky, "tpl") == 4
    assert len(flaky.sent) == 4
