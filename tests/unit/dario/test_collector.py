"""dario.collector: the garbage collector's settings for a serving process."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dario import collector


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_tune_raises_the_young_threshold_and_keeps_the_older_ones(restored: None) -> None:
    collector.tune()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector.OLDER_THRESHOLDS)


def test_settle_collects_what_start_left_and_freezes_the_rest_while_cycles_made_later_are_still_collected(
        restored: None) -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    first, second = Node(), Node()
    first.other, second.other = second, first  # a cycle made before serving, dropped: settle collects it
    del first, second
    collector.tune()
    collector.settle()
    assert not any(isinstance(item, Node) for item in gc.get_objects())
    assert gc.get_freeze_count() > 1000  # the modules' objects, out of every later pass
    later, other = Node(), Node()
    later.other, other.other = other, later
    del later, other
    gc.collect()  # what a pass finds once the threshold is reached
    assert not any(isinstance(item, Node) for item in gc.get_objects())
