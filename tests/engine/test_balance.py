"""The balancing rule: most free room relative to size, then most free slots, then order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.engine.balance import most_room

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Place:
    """A place with a fixed size and room that counts how often it is asked."""

    name: str
    free: int
    size: int
    asked: int = 0

    def free_slots(self) -> int:
        self.asked += 1
        return self.free

    def capacity(self) -> int:
        return self.size


def test_room_relative_to_size_wins_over_more_free_slots() -> None:
    small, big = Place("small", 1, 1), Place("big", 2, 3)
    assert most_room([big, small]) is small


def test_equal_share_goes_to_more_free_slots_then_to_the_first_given() -> None:
    assert most_room([Place("a", 1, 2), Place("b", 2, 4)]).name == "b"  # type: ignore[union-attr]
    assert most_room([Place("a", 2, 4), Place("b", 2, 4)]).name == "a"  # type: ignore[union-attr]


def test_full_places_are_never_chosen() -> None:
    assert most_room([Place("full", 0, 4), Place("over", -1, 2)]) is None
    assert most_room([]) is None
    assert most_room([Place("full", 0, 4), Place("one", 1, 8)]).name == "one"  # type: ignore[union-attr]


def test_a_last_resort_is_taken_only_when_no_other_has_room() -> None:
    gave_back, other = Place("gave-back", 4, 4), Place("other", 1, 4)
    assert most_room([gave_back, other], last_resort=lambda p: p is gave_back) is other
    other.free = 0
    assert most_room([gave_back, other], last_resort=lambda p: p is gave_back) is gave_back


def test_each_place_is_asked_for_its_room_once() -> None:
    places = [Place("a", 1, 2), Place("b", 3, 4), Place("c", 0, 1)]
    most_room(places)
    assert [place.asked for place in places] == [1, 1, 1]


def test_the_rule_is_written_once() -> None:
    """The runner (between executors) and a pool (between hosts) both call most_room."""
    ratio = re.compile(r"free(_slots\(\))?\s*/\s*max\(1,\s*\w+\.capacity\(\)\)")
    copies = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "app").rglob("*.py"))
              if ratio.search(path.read_text(encoding="utf-8"))]
    assert copies == ["app/engine/balance.py"]
    for user in ("app/engine/dispatch.py", "app/remote/pool.py"):
        assert "most_room(" in (ROOT / user).read_text(encoding="utf-8"), user
