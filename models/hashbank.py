"""Known-bad media: PDQ perceptual hashes of images matched against a local bank file.

PDQ (Meta's perceptual hash, the one ThreatExchange and Hasher-Matcher-Actioner share)
turns an image into 256 bits that change little under re-encoding, resizing, light
cropping and format conversion; two hashes at Hamming distance <= 31 are the same picture
for ThreatExchange's purposes. ``pdq_hash`` computes a hash and its quality (0..100: flat or
tiny images score low and their hashes are unreliable).

Hash bytes and hex follow PDQ's reference implementation: the 256-bit hash is one
big-endian number, ``hash_to_hex`` prints it as 64 lowercase hex digits (the string the C++
and Java hashers, ThreatExchange and HMA exchange), and bit ``i`` of ``pdqhash.compute``'s
array is bit ``7 - i % 8`` of byte ``i // 8`` (bit 0 of the array is the most significant bit
of byte 0, ``np.packbits`` order).

A ``HashBank`` is a JSON Lines file, one entry a line
(``{"id", "hash", "label", "note", "added_at", "quality"}``, ``hash`` in hex); blank lines
are ignored and unknown keys are kept out of the entry (forward compatible). A missing file
is an empty bank. Matching is brute force over a packed ``uint64[4, N]`` matrix (XOR plus
popcount in numpy): about half a millisecond for 100,000 entries. The entries and the
matrix live in one immutable snapshot that ``reload_if_changed`` and the management calls
replace with a single attribute assignment, so ``match`` can run on any thread at any time.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from modgate.errors import ModgateError

log = logging.getLogger(__name__)

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8
PDQ_HEX_CHARS = PDQ_BYTES * 2
DEFAULT_MAX_DISTANCE = 31
"""ThreatExchange's recommended PDQ match threshold (Hamming distance, of 256 bits)."""

MAX_ID_CHARS = 64
MAX_LABEL_CHARS = 64
MAX_NOTE_CHARS = 500

_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_HEX_RE = re.compile(r"[0-9A-Fa-f]{64}")
_WORDS = PDQ_BYTES // 8  # a hash is 4 uint64 words in the match matrix
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _popcount_lut() -> Callable[[npt.NDArray[np.uint64]], npt.NDArray[np.uint8]]:
    """numpy < 2 has no ``bitwise_count``: popcount through a byte lookup table."""
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def count(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
        as_bytes = x.view(np.uint8).reshape(*x.shape, 8)
        counts: npt.NDArray[np.uint8] = table[as_bytes].sum(axis=-1, dtype=np.uint8)
        return counts

    return count


_popcount: Callable[[npt.NDArray[np.uint64]], npt.NDArray[np.uint8]] = (
    getattr(np, "bitwise_count", None) or _popcount_lut()
)


class HashBankError(ModgateError):
    """A bank file cannot be read or has a malformed line (the message names file and line)."""


def _check_hash(h: object, what: str = "hash") -> bytes:
    if isinstance(h, bytearray | memoryview):
        h = bytes(h)
    if not isinstance(h, bytes) or len(h) != PDQ_BYTES:
        size = len(h) if isinstance(h, bytes) else type(h).__name__
        raise ValueError(f"{what} must be {PDQ_BYTES} bytes (a 256-bit PDQ hash), got {size}")
    return h


def pdq_hash(rgb: npt.NDArray[np.uint8]) -> tuple[bytes, int]:
    """PDQ hash (32 bytes, see the module docstring for the bit order) and quality (0..100)
    of an ``H x W x 3`` uint8 RGB array. The whole array is hashed (no resizing)."""
    import pdqhash

    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"pdq_hash needs an H x W x 3 RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"pdq_hash needs a uint8 array, got {arr.dtype}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"pdq_hash needs a non-empty image, got shape {arr.shape}")
    bits, quality = pdqhash.compute(np.ascontiguousarray(arr))
    packed = np.packbits(np.asarray(bits, dtype=np.uint8))
    return packed.tobytes(), int(quality)


def hash_to_hex(h: bytes) -> str:
    """64 lowercase hex digits, PDQ's canonical text form."""
    return _check_hash(h).hex()


def hash_from_hex(s: str) -> bytes:
    """Parse 64 hex digits (either case, surrounding whitespace allowed) into 32 bytes."""
    text = s.strip() if isinstance(s, str) else s
    if not isinstance(text, str) or not _HEX_RE.fullmatch(text):
        shown = text if isinstance(text, str) and len(text) <= 80 else f"{str(text)[:77]}..."
        raise ValueError(
            f"a PDQ hash must be exactly {PDQ_HEX_CHARS} hex digits (0-9, a-f), got {shown!r}"
        )
    return bytes.fromhex(text)


def _fast_from_hex(s: str) -> bytes | None:
    """``hash_from_hex`` for the common, well-formed case (None otherwise): 64 characters
    that ``bytes.fromhex`` turns into 32 bytes are exactly 64 hex digits (it skips only
    whitespace, which would leave fewer bytes)."""
    if len(s) != PDQ_HEX_CHARS:
        return None
    try:
        h = bytes.fromhex(s)
    except ValueError:
        return None
    return h if len(h) == PDQ_BYTES else None


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two PDQ hashes (0..256)."""
    x = int.from_bytes(_check_hash(a, "a"), "big") ^ int.from_bytes(_check_hash(b, "b"), "big")
    return x.bit_count()


@dataclass(frozen=True, slots=True)
class BankEntry:
    """One known-bad hash. ``id`` is ``[A-Za-z0-9_.:-]{1,64}`` and unique in a bank."""

    id: str
    hash: bytes
    label: str = ""
    note: str = ""
    added_at: float = 0.0
    quality: int | None = None

    def __post_init__(self) -> None:
        # Hot when a large bank loads: the common case is a handful of cheap checks.
        if not isinstance(self.id, str) or _ID_RE.fullmatch(self.id) is None:
            raise ValueError(
                f"entry id must be 1-{MAX_ID_CHARS} characters of A-Z a-z 0-9 _ . : -, "
                f"got {self.id!r}"
            )
        h = self.hash
        if type(h) is not bytes or len(h) != PDQ_BYTES:
            object.__setattr__(self, "hash", _check_hash(h, f"entry {self.id!r}: hash"))
        label, note = self.label, self.note
        if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
            raise ValueError(f"entry {self.id!r}: label must be a string of at most 64 characters")
        if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
            raise ValueError(f"entry {self.id!r}: note must be a string of at most 500 characters")
        added = self.added_at
        if type(added) is not float:
            if isinstance(added, bool) or not isinstance(added, int | float):
                raise ValueError(f"entry {self.id!r}: added_at must be a number (unix time)")
            added = float(added)
            object.__setattr__(self, "added_at", added)
        if not 0.0 <= added < math.inf:  # NaN fails too
            raise ValueError(f"entry {self.id!r}: added_at must be a finite unix time >= 0")
        q = self.quality
        if q is not None and (type(q) is not int or not 0 <= q <= 100):
            raise ValueError(f"entry {self.id!r}: quality must be an integer 0..100 or null")

    @property
    def hex(self) -> str:
        return self.hash.hex()

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the bank file (hash in hex)."""
        return {
            "id": self.id,
            "hash": self.hash.hex(),
            "label": self.label,
            "note": self.note,
            "added_at": self.added_at,
            "quality": self.quality,
        }

    @classmethod
    def from_dict(cls, data: Any) -> BankEntry:
        """Inverse of ``to_dict``; ValueError naming what is wrong. Unknown keys are ignored."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        if "id" not in data or "hash" not in data:
            missing = [k for k in ("id", "hash") if k not in data]
            raise ValueError(f"missing {', '.join(repr(k) for k in missing)}")
        raw_hash = data["hash"]
        if not isinstance(raw_hash, str):
            raise ValueError("'hash' must be a hex string")
        h = _fast_from_hex(raw_hash)
        return cls(
            data["id"],
            h if h is not None else hash_from_hex(raw_hash),
            data.get("label") or "",
            data.get("note") or "",
            data.get("added_at") or 0.0,
            data.get("quality"),
        )


@dataclass(frozen=True, slots=True)
class BankMatch:
    entry: BankEntry
    distance: int


_Stamp = tuple[int, int, int]  # (inode, mtime_ns, size)


class _Snapshot(NamedTuple):
    """Everything ``match`` reads, replaced as a whole (one attribute assignment)."""

    entries: tuple[BankEntry, ...]
    planes: npt.NDArray[np.uint64]  # [4, N]: word k of every hash, contiguous per word
    by_id: dict[str, int]  # id -> position; never mutated after construction
    stamp: _Stamp | None  # of the file the entries came from; None = no file


def _snapshot(entries: tuple[BankEntry, ...], stamp: _Stamp | None) -> _Snapshot:
    packed = np.frombuffer(b"".join(e.hash for e in entries), dtype=np.uint64)
    planes = np.ascontiguousarray(packed.reshape(len(entries), _WORDS).T)
    planes.setflags(write=False)
    return _Snapshot(entries, planes, {e.id: i for i, e in enumerate(entries)}, stamp)


def _stamp_of(st: os.stat_result) -> _Stamp:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class HashBank:
    """A bank of known-bad PDQ hashes backed by a JSON Lines file (see the module docstring).

    Loads on construction (HashBankError if the file is malformed or unreadable). ``match``
    and ``nearest`` are safe from any thread; ``reload_if_changed``, ``add`` and ``remove``
    serialise on a lock. ``add`` and ``remove`` re-read the file first if it changed on disk,
    then rewrite it atomically (temp file in the same directory, then ``os.replace``).
    """

    def __init__(self, path: Path, *, max_distance: int = DEFAULT_MAX_DISTANCE) -> None:
        if isinstance(max_distance, bool) or not isinstance(max_distance, int):
            raise ValueError(f"max_distance must be an integer, got {max_distance!r}")
        if not 0 <= max_distance <= PDQ_BITS:
            raise ValueError(f"max_distance must be 0..{PDQ_BITS}, got {max_distance}")
        self._path = Path(path)
        self._max_distance = max_distance
        self._lock = threading.Lock()
        self._bad_stamp: _Stamp | None = None
        self._snap = self._load()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def max_distance(self) -> int:
        return self._max_distance

    def __len__(self) -> int:
        return len(self._snap.entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._snap.by_id

    def __repr__(self) -> str:
        return f"HashBank({str(self._path)!r}, entries={len(self)})"

    def entries(self) -> list[BankEntry]:
        """The entries in file order."""
        return list(self._snap.entries)

    def get(self, entry_id: str) -> BankEntry | None:
        snap = self._snap
        i = snap.by_id.get(entry_id)
        return None if i is None else snap.entries[i]

    # -- matching ----------------------------------------------------------------------

    def distances(self, h: bytes) -> npt.NDArray[np.uint16]:
        """Hamming distance from ``h`` to every entry, in file order."""
        return self._distances(self._snap, h)

    @staticmethod
    def _distances(snap: _Snapshot, h: bytes) -> npt.NDArray[np.uint16]:
        query = np.frombuffer(_check_hash(h), dtype=np.uint64)
        counts = _popcount(np.bitwise_xor(snap.planes, query[:, None]))
        total: npt.NDArray[np.uint16] = counts[0].astype(np.uint16)
        for k in range(1, _WORDS):
            total += counts[k]
        return total

    def nearest(self, h: bytes) -> BankMatch | None:
        """The nearest entry whatever its distance (ties: first in the file); None if empty."""
        snap = self._snap  # one read: a concurrent reload cannot mix two banks
        if not snap.entries:
            _check_hash(h)
            return None
        d = self._distances(snap, h)
        i = int(np.argmin(d))
        return BankMatch(snap.entries[i], int(d[i]))

    def match(self, h: bytes) -> BankMatch | None:
        """The nearest entry if its distance is at most ``max_distance``, else None."""
        best = self.nearest(h)
        return best if best is not None and best.distance <= self._max_distance else None

    # -- loading -----------------------------------------------------------------------

    def _load(self) -> _Snapshot:
        """Read the file (missing = empty). HashBankError on anything malformed."""
        try:
            with self._path.open("rb") as f:
                stamp = _stamp_of(os.fstat(f.fileno()))
                data = f.read()
        except FileNotFoundError:
            return _snapshot((), None)
        except OSError as exc:
            raise HashBankError(f"{self._path}: cannot read the hash bank: {exc}") from exc
        return _snapshot(self._parse(data), stamp)

    def _parse(self, data: bytes) -> tuple[BankEntry, ...]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            lineno = data.count(b"\n", 0, exc.start) + 1
            raise HashBankError(f"{self._path}:{lineno}: not UTF-8 ({exc.reason})") from exc
        entries: list[BankEntry] = []
        seen: dict[str, int] = {}
        loads, from_dict = json.loads, BankEntry.from_dict
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line or line.isspace():
                continue
            try:
                entry = from_dict(loads(line))
            except json.JSONDecodeError as exc:
                raise HashBankError(f"{self._path}:{lineno}: not valid JSON ({exc.msg})") from exc
            except ValueError as exc:
                raise HashBankError(f"{self._path}:{lineno}: bad entry: {exc}") from exc
            first = seen.setdefault(entry.id, lineno)
            if first != lineno:
                raise HashBankError(
                    f"{self._path}:{lineno}: duplicate id {entry.id!r} (first on line {first})"
                )
            entries.append(entry)
        return tuple(entries)

    def _current_stamp(self) -> _Stamp | None:
        try:
            return _stamp_of(self._path.stat())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HashBankError(f"{self._path}: cannot stat the hash bank: {exc}") from exc

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed, appeared or vanished; True if the bank was replaced.

        A malformed or unreadable file keeps the current entries (logged once per version of
        the file) and returns False.
        """
        with self._lock:
            try:
                stamp = self._current_stamp()
            except HashBankError as exc:
                log.warning("hash bank not reloaded, keeping %d entries: %s", len(self), exc)
                return False
            if stamp == self._snap.stamp or (stamp is not None and stamp == self._bad_stamp):
                return False
            try:
                snap = self._load()
            except HashBankError as exc:
                self._bad_stamp = stamp
                log.warning("hash bank not reloaded, keeping %d entries: %s", len(self), exc)
                return False
            self._bad_stamp = None
            if snap.stamp == self._snap.stamp:
                return False
            self._snap = snap
            log.info("hash bank %s reloaded: %d entries", self._path, len(snap.entries))
            return True

    # -- management --------------------------------------------------------------------

    def add(self, entry: BankEntry) -> None:
        """Append one entry and rewrite the file. ValueError if its id is already there."""
        self.add_all([entry])

    def add_all(
        self, entries: Iterable[BankEntry], *, skip_existing: bool = False
    ) -> list[BankEntry]:
        """Append entries in one atomic rewrite; returns those added. An id already in the
        bank (or repeated in ``entries``) is a ValueError and nothing is written, unless
        ``skip_existing``, which skips it instead."""
        new = list(entries)
        with self._lock:
            snap = self._fresh()
            ids = set(snap.by_id)
            added: list[BankEntry] = []
            for entry in new:
                if not isinstance(entry, BankEntry):
                    raise TypeError(f"expected BankEntry, got {type(entry).__name__}")
                if entry.id in ids:
                    if skip_existing:
                        continue
                    raise ValueError(f"id {entry.id!r} is already in the hash bank {self._path}")
                ids.add(entry.id)
                added.append(entry)
            if added:
                self._write(snap.entries + tuple(added))
            return added

    def remove(self, entry_id: str) -> BankEntry:
        """Delete one entry by id and rewrite the file; KeyError if there is none."""
        with self._lock:
            snap = self._fresh()
            i = snap.by_id.get(entry_id)
            if i is None:
                raise KeyError(entry_id)
            removed = snap.entries[i]
            self._write(snap.entries[:i] + snap.entries[i + 1 :])
            return removed

    def _fresh(self) -> _Snapshot:
        """The on-disk state before a rewrite (so an external edit is not lost); raises
        HashBankError rather than overwrite a file it cannot parse."""
        if self._current_stamp() != self._snap.stamp:
            self._snap = self._load()
            self._bad_stamp = None
        return self._snap

    def _write(self, entries: tuple[BankEntry, ...]) -> None:
        path = self._path
        encode = _ENCODER.encode
        payload = "".join([encode(e.to_dict()) + "\n" for e in entries]).encode("utf-8")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                mode = path.stat().st_mode & 0o777
            except FileNotFoundError:
                mode = 0o644
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, mode)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
            stamp = _stamp_of(path.stat())
        except OSError as exc:
            raise HashBankError(f"{path}: cannot write the hash bank: {exc}") from exc
        self._snap = _snapshot(entries, stamp)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
