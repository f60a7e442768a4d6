"""Credential choice: fewest in flight, ties by catalog order; release never goes negative."""

import pytest

from pool_service.selection import NoCandidates, Selector


def test_single_candidate_is_always_chosen() -> None:
    selector = Selector()
    assert [selector.choose("b", ["only"]) for _ in range(3)] == ["only"] * 3


def test_fewest_in_flight_then_catalog_order() -> None:
    selector = Selector()
    assert selector.choose("b", ["a", "c"]) == "a"
    assert selector.choose("b", ["a", "c"]) == "c"
    assert selector.choose("b", ["a", "c"]) == "a"
    selector.release("b", "a")
    selector.release("b", "a")
    assert selector.choose("b", ["a", "c"]) == "a"


def test_backends_are_counted_apart() -> None:
    selector = Selector()
    selector.choose("one", ["x", "y"])
    assert selector.choose("two", ["x", "y"]) == "x"


def test_release_floors_at_zero() -> None:
    selector = Selector()
    selector.release("b", "never")
    assert selector.in_flight.get(("b", "never"), 0) == 0


def test_no_candidates_raises() -> None:
    with pytest.raises(NoCandidates, match="'b'"):
        Selector().choose("b", [])
