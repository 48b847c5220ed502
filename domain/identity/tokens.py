"""Access tokens (short-lived JWT, HS256) and opaque secrets (refresh tokens, API keys)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from domain.base import utcnow
from domain.errors import ErrorCode, Unauthenticated

FACTORY_KEY_PREFIX = "c2mf_"


def hash_secret(secret: str) -> bytes:
    # The secrets hashed here are 256-bit random values, so a fast hash is the right tool:
    # there is nothing to brute-force. (Passwords would need a slow KDF.)
    return hashlib.sha256(secret.encode()).digest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_factory_key() -> tuple[str, str]:
    """Return (prefix, full key). The prefix is public and indexed; the key is shown once."""
    prefix = secrets.token_hex(6)
    return prefix, f"{FACTORY_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


def split_factory_key(key: str) -> str | None:
    if not key.startswith(FACTORY_KEY_PREFIX):
        return None
    prefix, _, rest = key[len(FACTORY_KEY_PREFIX) :].partition("_")
    return prefix if prefix and rest else None


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime


class TokenIssuer:
    # Verified tokens are remembered (token -> user, expiry): a token is immutable, so the
    # signature needs checking once; expiry is still checked on every use.
    CACHE_SIZE = 50_000

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._key = OctKey.import_key(secret)
        self._ttl = timedelta(seconds=ttl_seconds)
        self._verified: dict[str, tuple[int, float]] = {}
        self._claims = jwt.JWTClaimsRegistry(exp={"essential": True}, sub={"essential": True})

    def issue(self, user_id: int) -> AccessToken:
        now = utcnow()
        exp = now + self._ttl
        token = jwt.encode(
            {"alg": "HS256"},
            {
                "sub": str(user_id),
                "typ": "access",
                "iat": int(now.timestamp()),
                "exp": int(exp.timestamp()),
            },
            self._key,
            algorithms=["HS256"],
        )
        return AccessToken(token=token, expires_at=exp.replace(microsecond=0))

    def verify(self, token: str) -> int:
        cached = self._verified.get(token)
        if cached is not None:
            user_id, exp = cached
            if time.time() < exp:
                return user_id
            del self._verified[token]
        user_id, exp = self._verify(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (user_id, exp)
        return user_id

    def _verify(self, token: str) -> tuple[int, float]:
        # joserfc (HS256 only, signature first, then the claims): a third of PyJWT's CPU per
        # token, which a storm of members each sending their first request pays in full.
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"]).claims
            self._claims.validate(claims)
            user_id, exp = int(claims["sub"]), float(claims["exp"])
        except ExpiredTokenError as exc:
            raise Unauthenticated(
                "The access token has expired.", code=ErrorCode.TOKEN_EXPIRED
            ) from exc
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated(
                "The access token is not valid.", code=ErrorCode.INVALID_TOKEN
            ) from exc
        if claims.get("typ") != "access":
            raise Unauthenticated("The access token is not valid.", code=ErrorCode.INVALID_TOKEN)
        return user_id, exp
