"""Short-lived signed links to a batch's sheets: what a factory's planner clicks in a browser or
opens in Excel, where no Authorization header can be sent. A link names the batch, the sheet and
who minted it (the factory or the KOC asking for it), and expires after 15 minutes; the route
that serves it still asks the domain whether that caller may read the batch."""

from __future__ import annotations

import hashlib
import hmac
import time

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from domain.identity.actor import Actor

LINK_TTL_SECONDS = 15 * 60
SHEETS = ("sheet", "lines", "packing")


class SheetLinks:
    def __init__(self, secret: str, public_url: str | None) -> None:
        # A key of its own (derived), so a link can never pass for an access token.
        derived = hmac.new(secret.encode(), b"c2m sheet links", hashlib.sha256).digest()
        self._key = OctKey.import_key(derived)
        self._base = (public_url or "").rstrip("/")

    def url(self, batch_id: int, sheet: str, actor: Actor) -> str:
        claims = {
            "b": batch_id,
            "s": sheet,
            "exp": int(time.time()) + LINK_TTL_SECONDS,
            **({"f": actor.factory_id} if actor.factory_id is not None else {}),
            **({"u": actor.user_id} if actor.user_id is not None else {}),
        }
        token = jwt.encode({"alg": "HS256"}, claims, self._key)
        return f"{self._base}/factory/batches/{batch_id}/{sheet}.csv?link={token}"

    def verify(self, token: str, batch_id: int, sheet: str) -> Actor | None:
        """Who minted a valid, unexpired link to this very sheet; None otherwise."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"]).claims
        except (JoseError, ValueError):
            return None
        exp = claims.get("exp")
        if claims.get("b") != batch_id or claims.get("s") != sheet:
            return None
        if not isinstance(exp, int) or exp < time.time():
            return None
        factory, user = claims.get("f"), claims.get("u")
        if isinstance(factory, int):
            return Actor(factory_id=factory)
        if isinstance(user, int):
            return Actor(user_id=user)
        return None
