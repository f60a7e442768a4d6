"""The outcome journal on a real filesystem: rotation and deletion once settled, a live owner's file left alone,
damaged lines skipped on replay."""

from __future__ import annotations

import os
import pathlib

from dario.v1 import pool_pb2
from frontend.services.journal import Journal


def data(index: int) -> bytes:
    return pool_pb2.Outcome(request_id=f"req_{index:06d}", model="gpt-4o-mini", status=200).SerializeToString()


def abandon(journal: Journal) -> None:
    """As a SIGKILL would: the files and their contents stay, the locks go."""
    for segment in journal.segments:
        os.close(segment.descriptor)


def test_segments_rotate_and_are_deleted_once_everything_in_them_is_settled(tmp_path: pathlib.Path) -> None:
    journal = Journal(tmp_path, segment_bytes=200)  # about four lines each
    assert journal.open() == []
    segments = [journal.append(data(index)) for index in range(40)]
    assert len(set(map(id, segments))) >= 4 and len(list(tmp_path.glob("*.journal"))) >= 4
    for segment in segments:
        journal.settle(segment)
    (left,) = tmp_path.glob("*.journal")  # only the one being written, emptied
    assert left == journal.current.path and left.stat().st_size == 0
    journal.close()
    assert list(tmp_path.iterdir()) == []


def test_a_live_owner_s_journal_is_not_taken_over_and_a_dead_one_s_is(tmp_path: pathlib.Path) -> None:
    owner = Journal(tmp_path)
    owner.open()
    owner.append(data(1))
    assert Journal(tmp_path).open() == []  # the owner holds its lock
    abandon(owner)
    (taken,) = Journal(tmp_path).open()
    assert [outcome.request_id for outcome in taken[1]] == ["req_000001"]


def test_damaged_and_torn_lines_are_skipped_and_the_others_replayed(tmp_path: pathlib.Path) -> None:
    dead = Journal(tmp_path)
    dead.open()
    for index in range(3):
        dead.append(data(index))
    path = dead.current.path
    abandon(dead)
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"00000000" + lines[1][8:]  # a wrong checksum
    path.write_bytes(b"\n".join(lines) + b"zz not base64\n" + b"1234abcd QUJD")  # garbage, then a torn line
    replay = Journal(tmp_path)
    ((segment, outcomes),) = replay.open()
    assert [outcome.request_id for outcome in outcomes] == ["req_000000", "req_000002"]
    assert replay.skipped == 3 and segment.unsettled == 2
    for _ in outcomes:
        replay.settle(segment)
    assert not path.exists()
