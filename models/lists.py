"""Lists the trust-and-safety team controls without retraining: domains, keywords and regular
expressions, each entry a reason code.

A lists file is YAML: ``entries``, each with

- ``kind``: ``domain`` (a link's host or any parent domain of it: ``bit.ly`` matches
  ``https://www.bit.ly/x``), ``keyword`` (a word or phrase, whole words, case-insensitive) or
  ``regex`` (RE2 syntax);
- ``value``: the domain, phrase or pattern;
- ``list``: ``block`` or ``allow``;
- ``category``: the policy category it speaks for (``spam``, ``hate``…);
- ``action``: for ``block``, ``remove`` or ``defer``; an ``allow`` entry vetoes removal for its
  category (the post defers instead of being removed by a model);
- ``reason``: the reason code's last part (``[a-z0-9_]``): a hit cites
  ``<category>.list.<reason>``, e.g. ``spam.list.shortener``.

Keywords and patterns are matched on the *normalized* text (``models.text.normalize_cached``:
homoglyphs, leetspeak, zero-width characters and spacing undone, lowercased), so ``free
1ph0ne`` and ``ｆｒｅｅ iphone`` match ``free iphone``; domains on the links of the raw text.
Every pattern runs on RE2: linear in the text, memory bounded (``MAX_PATTERN_CHARS``, RE2's
``max_mem``), so no entry can stall the gateway whatever the post; a pattern RE2 refuses is an
error when the file is loaded. The file is re-read when its size or mtime changes
(``reload_if_changed``, called by the gateway every few seconds): a malformed new version is
logged and the previous lists stay. A missing file is empty lists. Matching runs on any thread.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import re2
import yaml

from models.text import normalize_cached
from modgate.errors import ModgateError

log = logging.getLogger(__name__)

Kind = Literal["domain", "keyword", "regex"]
KINDS = ("domain", "keyword", "regex")
MAX_PATTERN_CHARS = 500
MAX_TEXT_CHARS = 20_000
_CODE = re.compile(r"^[a-z0-9_]{1,64}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Hosts of links in raw text, linear: a scheme or www., then the host.
_HOST = re.compile(r"(?:https?://|www\.)([A-Za-z0-9.-]{1,253})", re.IGNORECASE)


def link_hosts(text: str) -> list[str]:
    """The host of every link in ``text`` (``https://…``, ``www.…``), lowercased, in order."""
    return [h.lower().rstrip(".") for h in _HOST.findall(text[:MAX_TEXT_CHARS])]


class ListsError(ModgateError):
    """A lists file or entry that cannot be used; the message names the entry."""


@dataclass(frozen=True, slots=True)
class ListEntry:
    kind: Kind
    value: str
    list: Literal["block", "allow"]
    category: str
    action: Literal["remove", "defer", "allow"]
    reason: str
    note: str = ""

    @property
    def code(self) -> str:
        return f"{self.category}.list.{self.reason}"

    def to_dict(self) -> dict[str, str]:
        data = {
            "kind": self.kind,
            "value": self.value,
            "list": self.list,
            "category": self.category,
            "action": self.action,
            "reason": self.reason,
        }
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True, slots=True)
class ListHit:
    entry: ListEntry
    matched: str  # what in the post matched (the host, the phrase, the regex match)


def entry_from(data: Any, where: str = "entry") -> ListEntry:
    """A validated entry from a mapping; ``ListsError`` naming the bad field otherwise."""
    if not isinstance(data, dict):
        raise ListsError(f"{where}: must be a mapping")
    unknown = set(data) - {"kind", "value", "list", "category", "action", "reason", "note"}
    if unknown:
        raise ListsError(f"{where}: unknown fields {sorted(unknown)}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ListsError(f"{where}.kind: must be one of {list(KINDS)}, got {kind!r}")
    value = data.get("value")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PATTERN_CHARS:
        raise ListsError(f"{where}.value: a non-empty string of at most {MAX_PATTERN_CHARS} chars")
    which = data.get("list", "block")
    if which not in ("block", "allow"):
        raise ListsError(f"{where}.list: must be 'block' or 'allow', got {which!r}")
    category = data.get("category")
    if not isinstance(category, str) or not _CATEGORY.match(category):
        raise ListsError(f"{where}.category: a policy category name, got {category!r}")
    action = data.get("action", "allow" if which == "allow" else "defer")
    allowed = ("allow",) if which == "allow" else ("remove", "defer")
    if action not in allowed:
        raise ListsError(f"{where}.action: must be one of {list(allowed)} for a {which} entry")
    reason = data.get("reason")
    if not isinstance(reason, str) or not _CODE.match(reason):
        raise ListsError(f"{where}.reason: [a-z0-9_], 1 to 64 characters, got {reason!r}")
    note = data.get("note", "")
    if not isinstance(note, str):
        raise ListsError(f"{where}.note: must be a string")
    if kind == "domain":
        value = value.strip().lower().lstrip(".")
    elif kind == "keyword":
        value = " ".join(normalize_cached(value).text.lower().split())
    entry = ListEntry(kind, value, which, category, action, reason, note)
    _compile(entry, where)  # refuse a pattern RE2 cannot run now, not at the first post
    return entry


def _options() -> Any:
    options = re2.Options()
    options.max_mem = 8 << 20
    options.case_sensitive = False
    options.log_errors = False  # a refused pattern is reported as ListsError, not on stderr
    return options


def _compile(entry: ListEntry, where: str) -> Any:
    if entry.kind == "domain":
        return None
    pattern = (
        r"\b" + re.escape(entry.value).replace(r"\ ", r"\s+") + r"\b"
        if entry.kind == "keyword"
        else entry.value
    )
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise ListsError(f"{where}.value: not a pattern RE2 can run: {detail}") from exc


class _Compiled:
    """One version of the lists, ready to match (immutable once built)."""

    def __init__(self, entries: Iterable[ListEntry]) -> None:
        self.entries = tuple(entries)
        self.domains = [e for e in self.entries if e.kind == "domain"]
        self.patterns = [
            (e, _compile(e, e.code)) for e in self.entries if e.kind in ("keyword", "regex")
        ]

    def match(self, text: str) -> list[ListHit]:
        hits: list[ListHit] = []
        if self.domains:
            hosts = set(link_hosts(text))
            for entry in self.domains:
                for host in hosts:
                    if host == entry.value or host.endswith("." + entry.value):
                        hits.append(ListHit(entry, host))
                        break
        if self.patterns:
            normalized = " ".join(normalize_cached(text[:MAX_TEXT_CHARS]).text.lower().split())
            for entry, compiled in self.patterns:
                found = compiled.search(normalized)
                if found is not None:
                    hits.append(ListHit(entry, found.group(0)[:200]))
        return hits


class Lists:
    """The lists in ``path`` (see the module docstring); ``match`` is thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._bad_stamp: tuple[int, int] | None = None
        self._compiled = _Compiled(())
        self.reload_if_changed(strict=True)

    @property
    def entries(self) -> tuple[ListEntry, ...]:
        return self._compiled.entries

    def match(self, text: str) -> list[ListHit]:
        """Every entry the post's text hits (block and allow alike)."""
        return self._compiled.match(text) if text else []

    def reload_if_changed(self, *, strict: bool = False) -> bool:
        """Re-read the file if it changed; True when the lists were replaced. A bad file
        keeps the current lists (logged once per version), or raises with ``strict``."""
        with self._lock:
            try:
                st = self.path.stat()
                stamp: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
            except FileNotFoundError:
                stamp = None
            if stamp == self._stamp or (stamp is not None and stamp == self._bad_stamp):
                return False
            try:
                entries = read_entries(self.path) if stamp is not None else []
            except ListsError as exc:
                if strict:
                    raise
                self._bad_stamp = stamp
                log.warning("lists %s not reloaded, keeping the previous ones: %s", self.path, exc)
                return False
            self._compiled = _Compiled(entries)
            self._stamp, self._bad_stamp = stamp, None
            log.info("lists %s loaded: %d entries", self.path, len(entries))
            return True


def read_entries(path: Path) -> list[ListEntry]:
    """The entries of a lists file (``ListsError`` naming what is wrong)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ListsError(f"cannot read lists file {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("entries", []), list):
        raise ListsError(f"{path}: expected a mapping with a list under 'entries'")
    entries = [
        entry_from(item, f"entries[{i}]") for i, item in enumerate(document.get("entries") or [])
    ]
    seen: set[tuple[str, str, str, str]] = set()
    for entry in entries:
        key = (entry.kind, entry.value, entry.list, entry.category)
        if key in seen:
            raise ListsError(f"{path}: duplicate entry {entry.kind} {entry.value!r} ({entry.list})")
        seen.add(key)
    return entries


def write_entries(path: Path, entries: Iterable[ListEntry]) -> None:
    """Replace the lists file atomically (write a temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        {"entries": [e.to_dict() for e in entries]}, sort_keys=False, allow_unicode=True
    )
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
