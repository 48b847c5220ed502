from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: a signed-in user, a factory (API key), or nobody."""

    user_id: int | None = None
    factory_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and self.factory_id is None


ANONYMOUS = Actor()
