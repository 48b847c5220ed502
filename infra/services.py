"""One typed container of long-lived collaborators, used by requests and jobs alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from domain.batching import GroupCommit
from domain.drops.models import Order
from domain.drops.preorders import PreorderRequest, place_preorders, preorder_key
from domain.drops.progress import PublishedVariants
from domain.drops.reservations import ReservationStore
from domain.drops.storage import MediaStore
from domain.drops.uploads import SizeLimits
from domain.identity.tokens import TokenIssuer
from domain.identity.wechat import WeChatLogin
from domain.notifications.wechat import SubscribeMessages
from domain.payments.provider import PaymentProvider, Poster
from domain.polls.live import LivePolls
from domain.polls.voting import VoteOutcome, VoteRequest, cast_votes, vote_key
from domain.referrals.codes import ReferralCodes
from domain.throttle import Throttle
from infra import tracing
from infra.adapters import (
    make_media_store,
    make_payment_provider,
    make_subscribe_messages,
    make_wechat_login,
    media_limits,
)
from infra.config import Settings
from infra.links import SheetLinks
from infra.pgnotify import OrderEvents
from infra.pubsub import PubSubHub, SharedFeeds
from infra.queue import make_broker
from infra.ratelimit import RedisThrottle, RedisVoteLimiter
from infra.resources import make_engine, make_read_sessionmaker, make_redis, make_sessionmaker
from infra.uow import unit_of_work


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]  # AUTOCOMMIT: reads only
    redis: Redis
    queue: AsyncBroker
    tokens: TokenIssuer
    wechat_login: WeChatLogin
    subscribe_messages: SubscribeMessages
    payments: PaymentProvider
    media_store: MediaStore
    media_limits: SizeLimits
    live_polls: LivePolls
    reservations: ReservationStore
    published_variants: PublishedVariants
    referral_codes: ReferralCodes
    throttle: Throttle
    hub: PubSubHub
    feeds: SharedFeeds
    order_events: OrderEvents
    sheet_links: SheetLinks
    votes: GroupCommit[VoteRequest, VoteOutcome]
    preorders: GroupCommit[PreorderRequest, Order]

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction; jobs and hooks queued inside run only after it commits."""
        return unit_of_work(self.sessionmaker, self.queue)


@asynccontextmanager
async def open_services(
    settings: Settings,
    database_url: str,
    redis_url: str,
    *,
    poster: Poster | None = None,
    pool_size: int | None = None,
    queue: AsyncBroker | None = None,
) -> AsyncIterator[Services]:
    """Build every collaborator from settings; close them all on the way out.

    ``poster`` is how the sandbox payment provider reaches our webhook (the API passes one; a
    worker only refunds). ``queue`` lets the worker pass the broker it consumes from."""
    engine = make_engine(settings, database_url, pool_size=pool_size)
    tracing.instrument_engine(settings, engine)
    redis = make_redis(settings, redis_url)
    own_queue = queue is None
    broker = queue or make_broker(settings, redis_url)
    if own_queue:
        await broker.startup()
    sessionmaker = make_sessionmaker(engine)
    hub = PubSubHub(redis)
    live_polls = LivePolls(sessionmaker, redis)
    reservations = ReservationStore(redis)

    def uow() -> AbstractAsyncContextManager[AsyncSession]:
        return unit_of_work(sessionmaker, broker)

    services = Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        read_sessionmaker=make_read_sessionmaker(engine),
        redis=redis,
        queue=broker,
        tokens=TokenIssuer(settings.jwt_secret, settings.access_token_ttl_seconds),
        wechat_login=make_wechat_login(settings),
        subscribe_messages=make_subscribe_messages(settings),
        payments=make_payment_provider(settings, poster),
        media_store=make_media_store(settings),
        media_limits=media_limits(settings),
        live_polls=live_polls,
        reservations=reservations,
        published_variants=PublishedVariants(),
        referral_codes=ReferralCodes(settings.jwt_secret),
        throttle=RedisThrottle.from_settings(settings, redis_url),
        hub=hub,
        feeds=SharedFeeds(hub),
        order_events=OrderEvents(database_url),
        sheet_links=SheetLinks(settings.jwt_secret, settings.public_url),
        votes=GroupCommit(
            partial(
                cast_votes,
                sessionmaker,
                live_polls,
                limiter=RedisVoteLimiter(redis, settings.vote_rate_per_member),
            ),
            key=vote_key,
            name="votes",
        ),
        preorders=GroupCommit(
            partial(place_preorders, uow, sessionmaker, reservations),
            key=preorder_key,
            name="pre-orders",
        ),
    )
    try:
        yield services
    finally:
        await services.votes.aclose()
        await services.preorders.aclose()
        await services.payments.aclose()
        await services.media_store.aclose()
        await services.subscribe_messages.aclose()
        await services.wechat_login.aclose()
        await hub.aclose()
        await services.order_events.aclose()
        if own_queue:
            await broker.shutdown()
        await redis.aclose()
        await engine.dispose()
        tracing.flush()
