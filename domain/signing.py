"""Short-lived signed claims: what a link carries when it must work without a session (an upload
URL, a sheet a planner clicks). HS256 under a key derived from the server's secret for one
purpose, so that a token made for one use never passes for another (nor for an access token)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey


class SignedClaims:
    def __init__(self, secret: str, purpose: str) -> None:
        derived = hmac.new(secret.encode(), f"c2m {purpose}".encode(), hashlib.sha256).digest()
        self._key = OctKey.import_key(derived)

    def sign(self, claims: dict[str, Any], ttl_seconds: float) -> str:
        return jwt.encode(
            {"alg": "HS256"}, {**claims, "exp": int(time.time() + ttl_seconds)}, self._key
        )

    def read(self, token: str) -> dict[str, Any] | None:
        """The claims of an authentic, unexpired token; None otherwise."""
        try:
            claims = dict(jwt.decode(token, self._key, algorithms=["HS256"]).claims)
        except (JoseError, ValueError):
            return None
        exp = claims.get("exp")
        return claims if isinstance(exp, int) and exp >= time.time() else None
