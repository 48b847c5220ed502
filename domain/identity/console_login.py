"""Signing in to the web console by approval from the mini-program (扫码登录).

The console asks for a challenge and shows it as a QR code; a KOC or operator signed in to the
mini-program scans it and approves; the console, which polls with the challenge, then receives a
session of that account, once. A challenge lives two minutes, is stored only as its hash (in
Redis, expiring by itself), is approved at most once and completed at most once: a photo of the
QR code taken after completion opens nothing. Members cannot approve (the console is for those
who run communities, drops and the platform). The session is an ordinary one: it refreshes,
expires and is revoked by ``logout`` like the mini-program's, and a KOC whose role is revoked
loses every power at once (roles are read per request).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from domain.base import utcnow
from domain.errors import Conflict, ErrorCode, NotFound, PermissionDenied
from domain.identity import repository as repo
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.sessions import Session, open_session
from domain.identity.tokens import TokenIssuer
from domain.throttle import LOGIN_PER_ADDRESS, Throttle

TTL = timedelta(minutes=2)
PENDING = "pending"
KEY = "c2m:console-login:{digest}"

# Approve only a pending challenge, keeping its expiry.
_APPROVE = """
if redis.call('GET', KEYS[1]) ~= 'pending' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 1
"""
# Take an approved challenge (deleting it: it is used once); say what it was otherwise.
_TAKE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 9) == 'approved:' then redis.call('DEL', KEYS[1]) end
return v
"""


def _key(challenge: str) -> str:
    digest = hashlib.sha256(challenge.encode()).hexdigest()
    return KEY.format(digest=digest)


def _expired() -> NotFound:
    return NotFound("This sign-in code has expired or was used; show a new one.", field="challenge")


async def start(
    redis: Redis, throttle: Throttle | None = None, address: str | None = None
) -> tuple[str, datetime]:
    """A new challenge for the console to show, and when it expires."""
    if throttle is not None and address:
        await throttle.check(LOGIN_PER_ADDRESS, address)
    challenge = "c2m-console:" + secrets.token_urlsafe(24)
    await redis.set(_key(challenge), PENDING, ex=int(TTL.total_seconds()), nx=True)
    return challenge, utcnow() + TTL


async def approve(session: AsyncSession, redis: Redis, actor: Actor, challenge: str) -> None:
    """The mini-program's signed-in KOC or operator approves the console showing ``challenge``."""
    user = await roles.require_user(session, actor)
    if not (user.is_koc or user.is_operator):
        raise PermissionDenied("Only KOCs and operators sign in to the console.")
    if len(challenge) > 200:
        raise _expired()
    approved = await redis.eval(_APPROVE, 1, _key(challenge), f"approved:{user.id}")
    if not approved:
        raise _expired()


async def complete(
    session: AsyncSession, redis: Redis, challenge: str, tokens: TokenIssuer, refresh_ttl: int
) -> Session:
    """The console's session once its challenge is approved (only once); CONSOLE_LOGIN_PENDING
    until then."""
    if len(challenge) > 200:
        raise _expired()
    value = await redis.eval(_TAKE, 1, _key(challenge))
    if isinstance(value, bytes):
        value = value.decode()
    if value is None:
        raise _expired()
    if value == PENDING:
        raise Conflict(
            "Waiting for approval in the mini-program.",
            field="challenge",
            code=ErrorCode.CONSOLE_LOGIN_PENDING,
        )
    user = await repo.get_user(session, int(str(value).removeprefix("approved:")))
    if user is None or not (user.is_koc or user.is_operator):
        raise PermissionDenied("This account may no longer use the console.")
    return await open_session(session, user, tokens, refresh_ttl)
