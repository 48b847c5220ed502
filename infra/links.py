"""Short-lived signed links to a batch's sheets: what a factory's planner clicks in a browser or
opens in Excel, where no Authorization header can be sent. A link names the batch, the sheet and
who minted it (the factory or the KOC asking for it), and expires after 15 minutes; the route
that serves it still asks the domain whether that caller may read the batch."""

from __future__ import annotations

from domain.identity.actor import Actor
from domain.signing import SignedClaims

LINK_TTL_SECONDS = 15 * 60
SHEETS = ("sheet", "lines", "packing")


class SheetLinks:
    def __init__(self, secret: str, public_url: str | None) -> None:
        self._claims = SignedClaims(secret, "sheet links")
        self._base = (public_url or "").rstrip("/")

    def url(self, batch_id: int, sheet: str, actor: Actor) -> str:
        claims = {
            "b": batch_id,
            "s": sheet,
            **({"f": actor.factory_id} if actor.factory_id is not None else {}),
            **({"u": actor.user_id} if actor.user_id is not None else {}),
        }
        token = self._claims.sign(claims, LINK_TTL_SECONDS)
        return f"{self._base}/factory/batches/{batch_id}/{sheet}.csv?link={token}"

    def verify(self, token: str, batch_id: int, sheet: str) -> Actor | None:
        """Who minted a valid, unexpired link to this very sheet; None otherwise."""
        claims = self._claims.read(token)
        if claims is None or claims.get("b") != batch_id or claims.get("s") != sheet:
            return None
        factory, user = claims.get("f"), claims.get("u")
        if isinstance(factory, int):
            return Actor(factory_id=factory)
        if isinstance(user, int):
            return Actor(user_id=user)
        return None
