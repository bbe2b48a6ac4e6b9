"""Append-only, segmented on-disk spool for stream records the broker could not take.

When Kafka is unreachable the publisher appends its records here and replays them, in order,
once the broker is back: nothing is lost across a crash or restart, and a segment is deleted
only after every record in it was acknowledged (at-least-once). Records go to the *active*
segment file; it rolls over past ``segment_bytes``, and ``seal()`` closes it so the publisher
can replay every sealed segment oldest first and ``discard()`` each one as it is acknowledged.
Segments left by a previous process are found on open, sealed as they are (never appended to:
their tail may be torn) and replayed first. The spool is not thread-safe: it is used from one
event loop, and its blocking I/O is one ``os.write`` per batch (plus ``fsync`` if asked).

Segment files are named ``{seq:020d}.spool``, so names sort in creation order; a new spool
continues after the highest sequence number on disk. Each record is framed as::

    header  >BBII   magic 0x53 ('S'), version 1, CRC32 of the body, body length
    body    >I topic length, topic (UTF-8), >I key length, key, >I value length, value

All integers are big-endian and unsigned. A reader stops at the first record that is truncated
(the process died mid-write), has a bad magic/version or length, or fails its CRC: it logs a
WARNING with the file and byte offset and yields every record before it.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

MAGIC = 0x53
VERSION = 1
SUFFIX = ".spool"
MAX_RECORD_BYTES = 2**31  # a body larger than this is a programming error
_HEADER = struct.Struct(">BBII")
_LEN = struct.Struct(">I")


class SpoolError(GatewayError):
    """The spool could not write a batch, or was asked to discard a segment it does not hold."""


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One stream record waiting for the broker."""

    topic: str
    key: bytes
    value: bytes


@dataclass(slots=True)
class _Segment:
    path: Path
    records: int = 0
    size: int = 0
    fd: int = -1  # open (>= 0) for appends only while this is the active segment


def encode(record: SpoolRecord) -> bytes:
    """Frame one record (header + body); raise ``ValueError`` if its body is too large."""
    parts = (record.topic.encode("utf-8"), record.key, record.value)
    body_len = sum(_LEN.size + len(p) for p in parts)
    if body_len > MAX_RECORD_BYTES:
        raise ValueError(f"spool record of {body_len} bytes exceeds {MAX_RECORD_BYTES}")
    body = b"".join(_LEN.pack(len(p)) + p for p in parts)
    return _HEADER.pack(MAGIC, VERSION, zlib.crc32(body), body_len) + body


def _decode_body(body: bytes) -> SpoolRecord | None:
    """Parse a CRC-checked body; ``None`` if its inner lengths do not add up."""
    fields: list[bytes] = []
    pos = 0
    for _ in range(3):
        if pos + _LEN.size > len(body):
            return None
        (n,) = _LEN.unpack_from(body, pos)
        pos += _LEN.size
        fields.append(body[pos : pos + n])
        pos += n
    if pos != len(body):
        return None
    try:
        topic = fields[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return SpoolRecord(topic=topic, key=fields[1], value=fields[2])


def _segment_paths(directory: Path) -> list[Path]:
    paths = [p for p in directory.glob(f"*{SUFFIX}") if p.stem.isdigit() and p.is_file()]
    return sorted(paths, key=lambda p: int(p.stem))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Segmented append-only record spool in ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 << 20, fsync: bool = False):
        if segment_bytes <= 0:
            raise ValueError(f"segment_bytes must be positive, got {segment_bytes}")
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._sealed: dict[Path, _Segment] = {}  # insertion order = oldest first
        self._active: _Segment | None = None
        self._records = 0
        self._bytes = 0
        self._next_seq = 0
        directory.mkdir(parents=True, exist_ok=True)
        self._discover()

    def _discover(self) -> None:
        for path in _segment_paths(self.directory):
            self._next_seq = int(path.stem) + 1
            size = path.stat().st_size
            if size == 0:
                path.unlink()
                continue
            records = sum(1 for _ in self.read_segment(path))
            self._sealed[path] = _Segment(path, records, size)
            self._records += records
            self._bytes += size
        if self._sealed:
            log.info("spool %s: %d records left to replay", self.directory, self._records)

    @property
    def empty(self) -> bool:
        """True when no segment holds an unreplayed record."""
        return self._records == 0

    @property
    def pending_records(self) -> int:
        return self._records

    @property
    def pending_bytes(self) -> int:
        """Bytes of the spool's segment files on disk."""
        return self._bytes

    def append(self, records: Sequence[SpoolRecord]) -> None:
        """Append a batch in one write; raise ``SpoolError`` if it did not reach the file."""
        if not records:
            return
        data = b"".join(encode(r) for r in records)  # ValueError before anything is written
        seg = self._active if self._active is not None else self._open_segment()
        try:
            self._write_all(seg.fd, data)
        except OSError as exc:
            self._undo_write(seg)
            raise SpoolError(f"spool write to {seg.path} failed: {exc}") from exc
        seg.records += len(records)
        seg.size += len(data)
        self._records += len(records)
        self._bytes += len(data)
        if seg.size >= self.segment_bytes:
            self._seal_active()

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if self.fsync:
            os.fsync(fd)

    def _undo_write(self, seg: _Segment) -> None:
        """Cut a partly written batch off; if that fails, seal so nothing follows the tear."""
        try:
            os.ftruncate(seg.fd, seg.size)
        except OSError:
            log.exception("spool %s: cannot truncate a failed write, sealing it", seg.path)
            self._seal_active()

    def _open_segment(self) -> _Segment:
        path = self.directory / f"{self._next_seq:020d}{SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        fd = os.open(path, flags, 0o644)  # O_EXCL: never share a segment with another spool
        self._next_seq += 1
        if self.fsync:
            _fsync_dir(self.directory)
        self._active = _Segment(path, fd=fd)
        return self._active

    def _seal_active(self) -> None:
        seg, self._active = self._active, None
        if seg is None:
            return
        if seg.fd >= 0:
            os.close(seg.fd)
            seg.fd = -1
        if seg.records:
            self._sealed[seg.path] = seg
        else:
            seg.path.unlink(missing_ok=True)

    def seal(self) -> list[Path]:
        """Close the active segment; return every sealed, unreplayed segment, oldest first."""
        self._seal_active()
        return list(self._sealed)

    def close(self) -> None:
        """Close the active segment file; its records stay on disk for the next process."""
        self._seal_active()

    def discard(self, path: Path) -> None:
        """Delete a sealed segment whose records were all acknowledged by the broker."""
        seg = self._sealed.pop(path, None)
        if seg is None:
            raise SpoolError(f"{path} is not a sealed segment of spool {self.directory}")
        path.unlink(missing_ok=True)
        self._records -= seg.records
        self._bytes -= seg.size

    @staticmethod
    def read_segment(path: Path) -> Iterator[SpoolRecord]:
        """Yield a segment's records in order, stopping (with a WARNING) at a torn record."""
        with path.open("rb") as f:
            while True:
                offset = f.tell()
                header = f.read(_HEADER.size)
                if not header:
                    return
                item = _read_one(f, header)
                if isinstance(item, str):
                    log.warning(
                        "spool segment %s: %s at byte %d; ignoring the rest", path, item, offset
                    )
                    return
                yield item


def _read_one(f: BinaryIO, header: bytes) -> SpoolRecord | str:
    """Read one record's body after ``header``; return the record or why it is unreadable."""
    if len(header) < _HEADER.size:
        return "truncated header"
    magic, version, crc, body_len = _HEADER.unpack(header)
    if magic != MAGIC or version != VERSION:
        return f"bad magic/version {magic:#x}/{version}"
    if body_len > MAX_RECORD_BYTES:
        return f"bad body length {body_len}"
    body = f.read(body_len)
    if len(body) < body_len:
        return "truncated body"
    if zlib.crc32(body) != crc:
        return "CRC mismatch"
    record = _decode_body(body)
    return "malformed body" if record is None else record
