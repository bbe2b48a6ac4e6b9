"""The on-disk spool: records come back in order across segments and restarts, a torn or
corrupt tail costs only the records from the tear on, and counters follow appends and discards."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway import spool as spool_module
from gateway.spool import Spool, SpoolError, SpoolRecord, encode

MakeSpool = Callable[..., Spool]


@pytest.fixture
def make_spool(tmp_path: Path) -> Iterator[MakeSpool]:
    opened: list[Spool] = []

    def make(directory: Path = tmp_path / "spool", **kwargs: Any) -> Spool:
        s = Spool(directory, **kwargs)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


def _records(n: int, tag: str = "r") -> list[SpoolRecord]:
    return [
        SpoolRecord("posts", f"{tag}{i}".encode(), f"value {tag}{i}".encode()) for i in range(n)
    ]


def _read_all(paths: list[Path]) -> list[SpoolRecord]:
    return [r for p in paths for r in Spool.read_segment(p)]


def _one_segment(spool: Spool, records: list[SpoolRecord]) -> Path:
    spool.append(records)
    [path] = spool.seal()
    return path


def test_records_round_trip_in_order_across_appends_and_a_segment_roll(
    make_spool: MakeSpool,
) -> None:
    spool = make_spool(segment_bytes=200)
    batches = [_records(3, "a"), _records(1, "b"), _records(4, "c"), _records(2, "d")]
    for batch in batches:
        spool.append(batch)
    paths = spool.seal()
    assert len(paths) > 1
    assert _read_all(paths) == [r for batch in batches for r in batch]
    assert spool.pending_records == 10
    assert spool.pending_bytes == sum(p.stat().st_size for p in paths)


def test_seal_returns_segments_oldest_first_and_new_appends_go_to_a_fresh_segment(
    make_spool: MakeSpool,
) -> None:
    spool = make_spool()
    spool.append(_records(2, "old"))
    [first] = spool.seal()
    spool.append(_records(2, "new"))
    paths = spool.seal()
    assert len(paths) == 2
    assert paths[0] == first
    second = paths[1]
    assert first.name < second.name
    assert _read_all([first]) == _records(2, "old")
    assert _read_all([second]) == _records(2, "new")


def test_seal_without_new_records_creates_no_segment(make_spool: MakeSpool) -> None:
    spool = make_spool()
    assert spool.seal() == []
    assert spool.empty
    assert list(spool.directory.iterdir()) == []


def test_a_reopened_spool_sees_previous_segments_and_continues_the_numbering(
    make_spool: MakeSpool, tmp_path: Path
) -> None:
    before = make_spool(segment_bytes=100)
    before.append(_records(5))
    before.close()
    old_paths = before.seal()
    (tmp_path / "spool" / f"{99:020d}.spool").touch()  # an empty leftover is dropped

    after = make_spool()
    assert after.pending_records == 5
    assert after.pending_bytes == before.pending_bytes
    assert not after.empty
    after.append(_records(1, "next"))
    paths = after.seal()
    assert paths[:-1] == old_paths
    assert paths[-1].name == f"{100:020d}.spool"
    assert _read_all(paths) == [*_records(5), *_records(1, "next")]


@pytest.mark.parametrize("kept", [5, 16, 36], ids=["in-header", "in-body", "one-byte-short"])
def test_a_torn_tail_yields_every_complete_record_before_it(
    make_spool: MakeSpool, caplog: pytest.LogCaptureFixture, kept: int
) -> None:
    records = _records(4)
    path = _one_segment(make_spool(), records)
    last_start = path.stat().st_size - len(encode(records[-1]))
    assert len(encode(records[-1])) == 37
    os.truncate(path, last_start + kept)
    with caplog.at_level(logging.WARNING, logger="gateway.spool"):
        assert list(Spool.read_segment(path)) == records[:-1]
    [warning] = caplog.records
    assert str(path) in warning.getMessage()
    assert f"at byte {last_start}" in warning.getMessage()


def test_a_flipped_byte_in_a_body_is_caught_by_the_crc_and_stops_reading_there(
    make_spool: MakeSpool, caplog: pytest.LogCaptureFixture
) -> None:
    records = _records(3)
    path = _one_segment(make_spool(), records)
    second = len(encode(records[0]))
    data = bytearray(path.read_bytes())
    data[second + 12] ^= 0xFF  # inside the second record's body (10-byte header)
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="gateway.spool"):
        assert list(Spool.read_segment(path)) == records[:1]
    assert "CRC mismatch" in caplog.text
    assert f"at byte {second}" in caplog.text


def test_a_reopened_spool_counts_only_the_complete_records_of_a_torn_segment(
    make_spool: MakeSpool, tmp_path: Path
) -> None:
    path = _one_segment(make_spool(), _records(3))
    os.truncate(path, path.stat().st_size - 2)
    assert make_spool(tmp_path / "spool").pending_records == 2


def test_discard_removes_the_file_and_empties_the_spool(make_spool: MakeSpool) -> None:
    spool = make_spool(segment_bytes=100)
    spool.append(_records(4))
    for path in spool.seal():
        spool.discard(path)
        assert not path.exists()
    assert spool.empty
    assert spool.pending_records == 0
    assert spool.pending_bytes == 0
    assert spool.seal() == []


def test_discarding_a_segment_the_spool_does_not_hold_is_a_spool_error(
    make_spool: MakeSpool, tmp_path: Path
) -> None:
    spool = make_spool()
    with pytest.raises(SpoolError):
        spool.discard(tmp_path / "nope.spool")


def test_empty_keys_and_values_and_unicode_topics_round_trip(make_spool: MakeSpool) -> None:
    records = [
        SpoolRecord("modération.décisions", b"", b""),
        SpoolRecord("主题-😀", b"\x00\xff", b""),
        SpoolRecord("t", b"", b"\x00" * 1000),
    ]
    path = _one_segment(make_spool(), records)
    assert list(Spool.read_segment(path)) == records


def test_appends_with_fsync_round_trip(make_spool: MakeSpool) -> None:
    spool = make_spool(fsync=True, segment_bytes=150)
    spool.append(_records(3))
    spool.append(_records(3, "s"))
    assert _read_all(spool.seal()) == [*_records(3), *_records(3, "s")]


def test_a_record_over_the_size_limit_is_a_value_error_and_writes_nothing(
    make_spool: MakeSpool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "MAX_RECORD_BYTES", 64)
    spool = make_spool()
    with pytest.raises(ValueError, match="exceeds 64"):
        spool.append([*_records(1), SpoolRecord("t", b"k", b"x" * 100)])
    assert spool.empty
    assert spool.seal() == []


def test_a_failed_write_is_cut_off_so_later_appends_stay_readable(
    make_spool: MakeSpool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = make_spool()
    spool.append(_records(2, "ok"))
    real_write = os.write

    def half_then_fail(fd: int, data: bytes) -> int:
        monkeypatch.setattr(os, "write", real_write)
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_fail)
    with pytest.raises(SpoolError, match="No space left"):
        spool.append(_records(3, "lost"))
    assert spool.pending_records == 2
    spool.append(_records(1, "later"))
    assert _read_all(spool.seal()) == [*_records(2, "ok"), *_records(1, "later")]
