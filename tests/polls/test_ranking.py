"""The ranking rule (pure): more votes first; a tie goes to the option listed earlier."""

from __future__ import annotations

from domain.polls.models import PollOption
from domain.polls.ranking import rank


def option(pk: int, position: int) -> PollOption:
    return PollOption(id=pk, poll_id=1, position=position, title=f"o{pk}", image_urls=[])


def test_votes_then_position_then_id() -> None:
    options = [option(10, 2), option(11, 0), option(12, 1), option(13, 3)]
    ranked = rank(options, {10: 5, 11: 3, 12: 5, 13: 0}, advance_count=2)
    assert [(r.option.id, r.votes, r.rank, r.advanced) for r in ranked] == [
        (12, 5, 1, True),  # tied with 10, listed earlier (position 1 < 2)
        (10, 5, 2, True),
        (11, 3, 3, False),
        (13, 0, 4, False),
    ]


def test_options_nobody_voted_for_still_rank() -> None:
    ranked = rank([option(1, 0), option(2, 1)], {}, advance_count=1)
    assert [(r.option.id, r.votes, r.advanced) for r in ranked] == [(1, 0, True), (2, 0, False)]
