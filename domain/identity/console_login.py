"""Signing in to the web console by approval from the mini-program (扫码登录).

The console asks for a challenge and shows it as a QR code; a KOC or operator signed in to the
mini-program scans it and approves; the console, which polls with the challenge, then receives a
session of that account, once. A challenge lives two minutes, is stored only as its hash (in
Redis, expiring by itself), is approved at most once and completed at most once: a photo of the
QR code taken after completion opens nothing. Members cannot approve (the console is for those
who run communities, drops and the platform). The session is an ordinary one: it refreshes,
expires and is revoked by ``logout`` like the mini-program's, and a KOC whose role is revoked
loses every power at once (roles are read per request).

Before approving, the mini-program shows who asks (``describe``): the address and browser that
started the challenge and when. A QR code relayed by a phisher (a page that shows the console's
code to a victim) then shows the phisher's address and browser, not the approver's own.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from domain.base import utcnow
from domain.errors import Conflict, ErrorCode, NotFound, PermissionDenied
from domain.identity import repository as repo
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.models import User
from domain.identity.sessions import Session, open_session
from domain.identity.tokens import TokenIssuer
from domain.throttle import LOGIN_PER_ADDRESS, Throttle

TTL = timedelta(minutes=2)
PENDING = "pending"
# The challenge's state and who started it share a hash tag: one slot, one transaction.
KEY = "c2m:console-login:{{{digest}}}"
ORIGIN = ":from"
MAX_USER_AGENT = 300

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
    """The challenge's Redis key; a string longer than any challenge is one that never was."""
    if len(challenge) > 200:
        raise _expired()
    digest = hashlib.sha256(challenge.encode()).hexdigest()
    return KEY.format(digest=digest)


def _expired() -> NotFound:
    return NotFound("This sign-in code has expired or was used; show a new one.", field="challenge")


@dataclass(frozen=True)
class LoginRequest:
    """Who started a pending challenge: what the approver is shown."""

    requested_at: datetime
    expires_at: datetime
    address: str | None
    user_agent: str | None


async def start(
    redis: Redis,
    throttle: Throttle | None = None,
    address: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, datetime]:
    """A new challenge for the console to show, and when it expires."""
    if throttle is not None and address:
        await throttle.check(LOGIN_PER_ADDRESS, address)
    challenge = "c2m-console:" + secrets.token_urlsafe(24)
    key, now, seconds = _key(challenge), utcnow(), int(TTL.total_seconds())
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, PENDING, ex=seconds, nx=True)
        pipe.hset(
            key + ORIGIN,
            mapping={
                "at": now.isoformat(),
                "address": address or "",
                "agent": (user_agent or "")[:MAX_USER_AGENT],
            },
        )
        pipe.expire(key + ORIGIN, seconds)
        await pipe.execute()
    return challenge, now + TTL


async def _console_user(session: AsyncSession, actor: Actor) -> User:
    user = await roles.require_user(session, actor)
    if not (user.is_koc or user.is_operator):
        raise PermissionDenied("Only KOCs and operators sign in to the console.")
    return user


async def describe(
    session: AsyncSession, redis: Redis, actor: Actor, challenge: str
) -> LoginRequest:
    """Who asks to sign in with ``challenge`` (pending only), for the approver to check first."""
    await _console_user(session, actor)
    key = _key(challenge)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(key)
        pipe.hgetall(key + ORIGIN)
        pipe.pttl(key)
        state, origin, left = await pipe.execute()
    if _text(state) != PENDING or not origin or left <= 0:
        raise _expired()
    fields = {_text(k): _text(v) or "" for k, v in origin.items()}
    return LoginRequest(
        requested_at=datetime.fromisoformat(fields["at"]),
        expires_at=utcnow() + timedelta(milliseconds=left),
        address=fields.get("address") or None,
        user_agent=fields.get("agent") or None,
    )


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode()
    return None if value is None else str(value)


async def approve(session: AsyncSession, redis: Redis, actor: Actor, challenge: str) -> None:
    """The mini-program's signed-in KOC or operator approves the console showing ``challenge``."""
    user = await _console_user(session, actor)
    approved = await redis.eval(_APPROVE, 1, _key(challenge), f"approved:{user.id}")
    if not approved:
        raise _expired()


async def complete(
    session: AsyncSession, redis: Redis, challenge: str, tokens: TokenIssuer, refresh_ttl: int
) -> Session:
    """The console's session once its challenge is approved (only once); CONSOLE_LOGIN_PENDING
    until then."""
    value = _text(await redis.eval(_TAKE, 1, _key(challenge)))
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
