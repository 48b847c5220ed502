"""Who is calling: a bearer token (a member's access token or a factory's API key)."""

from __future__ import annotations

from domain.errors import DomainError, ErrorCode, Unauthenticated
from domain.identity import sessions
from domain.identity.actor import ANONYMOUS, Actor
from domain.identity.tokens import FACTORY_KEY_PREFIX
from infra.services import Services


async def authenticate(
    services: Services, authorization: str | None
) -> tuple[Actor, DomainError | None]:
    """The caller, or anonymous with the reason a presented credential was refused."""
    if not authorization:
        return ANONYMOUS, None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return ANONYMOUS, Unauthenticated(
            "Use 'Authorization: Bearer <token>'.", code=ErrorCode.INVALID_TOKEN
        )
    try:
        if token.startswith(FACTORY_KEY_PREFIX):
            async with services.sessionmaker() as session:
                return await sessions.authenticate_factory_key(session, token), None
        return Actor(user_id=services.tokens.verify(token)), None
    except DomainError as error:
        return ANONYMOUS, error
