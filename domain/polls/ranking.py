"""The ranking rule: more votes first; ties go to the option listed earlier in the poll (lower
position, which the KOC controls and every member can see), then the lower id. The top
``advance_count`` advance."""

from __future__ import annotations

from dataclasses import dataclass

from domain.polls.models import PollOption


@dataclass(frozen=True)
class RankedOption:
    option: PollOption
    votes: int
    rank: int
    advanced: bool


def rank(
    options: list[PollOption], votes: dict[int, int], advance_count: int
) -> list[RankedOption]:
    ordered = sorted(options, key=lambda o: (-votes.get(o.id, 0), o.position, o.id))
    return [
        RankedOption(option=o, votes=votes.get(o.id, 0), rank=i + 1, advanced=i < advance_count)
        for i, o in enumerate(ordered)
    ]
