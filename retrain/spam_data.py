"""The spam model's data: spam sources, the legitimate speech it must leave alone, and splits.

- **Spam sources** (train): the UCI SMS Spam Collection (``sms``: ham 0 / spam 1) and ScamSpot
  Instagram comments (``scamspot``: legit 0 / scam-spam 1, crypto and "DM me" promotion).
- **Legitimate speech** (train, label 0): every *real* (not templated) training corpus of the
  text model (``retrain/corpora``): tweets, forum posts, news and video comments in 11
  languages, toxic and not. Offensive is not spam: these rows teach the model that ordinary
  (and abusive) speech with numbers, hashtags or "congratulations" is not spam.
- **Measured only** (never trained on): the ``eval_only/`` corpora (whole sources in other
  languages and platforms: legitimate speech the model never saw), and UTKML's spam-labelled
  tweets with account features (``eval_only/utkml_twitter_spam_en_research``).

Splits are by content: a CRC32 of the normalized text picks train (60 %), dev (20 %) or test
(20 %), so a text repeated across rows or sources never sits on both sides.
"""

from __future__ import annotations

import csv
import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from retrain.corpora.base import Corpus
from retrain.corpora.registry import eval_only_corpora, training_corpora
from retrain.data import SMS_SPAM_PATH, read_sms_spam
from retrain.errors import DataError

Split = Literal["train", "dev", "test"]
SCAMSPOT_PATH = Path("scamspot") / "comments-rating.csv"
UTKML_PATH = Path("eval_only") / "utkml_twitter_spam_en_research" / "train_clean.csv"
SPAM_SOURCES = ("sms", "scamspot")
SPAM_CITATIONS = {
    "sms": (
        "UCI SMS Spam Collection v.1 (Almeida, Gómez Hidalgo & Yamakami, DOCENG'11), "
        "free for research with citation"
    ),
    "scamspot": "ScamSpot Instagram comments (Erben, 2023; github.com/ScamSpot), MIT",
}
UTKML = "utkml_tweets"


@dataclass(frozen=True, slots=True)
class SpamRow:
    """One text, 1 = spam; ``source`` names where it came from, ``split`` where it goes."""

    text: str
    label: int
    source: str
    language: str
    split: Split
    followers: float | None = None


def split_of(text: str) -> Split:
    """Train / dev / test (60/20/20) by the content of ``text`` (case and spacing ignored)."""
    bucket = zlib.crc32(" ".join(text.lower().split()).encode()) % 100
    return "train" if bucket < 60 else "dev" if bucket < 80 else "test"


def _rows(texts: Iterable[tuple[str, int]], source: str, language: str) -> list[SpamRow]:
    return [SpamRow(t, y, source, language, split_of(t)) for t, y in texts if t.strip()]


def read_sms(data_dir: Path) -> list[SpamRow]:
    data = read_sms_spam(data_dir / SMS_SPAM_PATH)
    return _rows(zip(data.texts, data.labels.tolist(), strict=True), "sms", "en")


def read_scamspot(data_dir: Path) -> list[SpamRow]:
    path = data_dir / SCAMSPOT_PATH
    if not path.is_file():
        raise DataError(f"{path} not found (ScamSpot comments, see ../shared/data/README.md)")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"scam", "msg"} <= set(reader.fieldnames):
            raise DataError(f"{path}: expected columns scam, msg; got {reader.fieldnames}")
        pairs = [(row["msg"] or "", int(row["scam"])) for row in reader]
    return _rows(pairs, "scamspot", "en")


def read_spam_sources(data_dir: Path, sources: Iterable[str] = SPAM_SOURCES) -> list[SpamRow]:
    readers = {"sms": read_sms, "scamspot": read_scamspot}
    rows: list[SpamRow] = []
    for source in sources:
        if source not in readers:
            raise DataError(f"unknown spam source {source!r}; known: {', '.join(readers)}")
        rows.extend(readers[source](data_dir))
    return rows


def read_legitimate(data_dir: Path, corpora: Iterable[Corpus]) -> list[SpamRow]:
    """Every row of the real (not templated) ``corpora``, as legitimate speech (label 0)."""
    rows: list[SpamRow] = []
    for corpus in corpora:
        if corpus.kind != "real":
            continue
        rows.extend(
            SpamRow(e.text, 0, e.source, e.language, split_of(e.text))
            for e in corpus.load(data_dir)
            if e.text.strip()
        )
    return rows


def training_legitimate(data_dir: Path) -> list[SpamRow]:
    return read_legitimate(data_dir, training_corpora())


def unseen_legitimate(data_dir: Path) -> list[SpamRow]:
    """The ``eval_only/`` corpora: legitimate speech from sources no model trains on."""
    return read_legitimate(data_dir, eval_only_corpora())


def read_utkml(data_dir: Path) -> list[SpamRow]:
    """UTKML tweets labelled Spam / Quality by account, with follower counts (eval only)."""
    path = data_dir / UTKML_PATH
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        out = []
        for row in csv.DictReader(f):
            text = (row.get("Tweet") or "").strip()
            if not text:
                continue
            followers = row.get("followers") or ""
            out.append(
                SpamRow(
                    text,
                    int(float(row["label_spam"])),
                    UTKML,
                    "en",
                    "test",
                    float(followers) if followers else None,
                )
            )
    return out


def measurement_only_sources() -> frozenset[str]:
    """Sources that may be measured on but never train (or tune) a shipped model."""
    return frozenset({s for c in eval_only_corpora() for s in c.sources} | {UTKML})


def check_trainable(rows: Iterable[SpamRow]) -> None:
    """DataError naming the first measurement-only source among ``rows``."""
    forbidden = measurement_only_sources()
    for row in rows:
        if row.source in forbidden:
            raise DataError(
                f"source {row.source!r} is measurement-only (eval_only/): it may not train "
                "or tune a shipped model"
            )


def cap_train(
    rows: list[SpamRow],
    cap: int | None,
    seed: int,
    keep: Callable[[SpamRow], bool] = lambda row: False,
) -> list[SpamRow]:
    """At most ``cap`` train rows per (source, label), chosen with ``seed``, besides the rows
    ``keep`` says to keep whatever the cap; dev/test kept."""
    if cap is None:
        return rows
    groups: dict[tuple[str, int], list[SpamRow]] = {}
    kept = {id(row) for row in rows if row.split == "train" and keep(row)}
    for row in rows:
        if row.split == "train" and id(row) not in kept:
            groups.setdefault((row.source, row.label), []).append(row)
    rng = random.Random(seed)
    for key in sorted(groups):
        members = groups[key]
        chosen = members if len(members) <= cap else rng.sample(members, cap)
        kept.update(id(r) for r in chosen)
    return [r for r in rows if r.split != "train" or id(r) in kept]


def cap_all(rows: list[SpamRow], cap: int, seed: int) -> list[SpamRow]:
    """At most ``cap`` rows per (source, label, split): tiny runs for tests."""
    groups: dict[tuple[str, int, str], list[SpamRow]] = {}
    for row in rows:
        groups.setdefault((row.source, row.label, row.split), []).append(row)
    rng = random.Random(seed)
    out: list[SpamRow] = []
    for key in sorted(groups):
        members = groups[key]
        out.extend(members if len(members) <= cap else rng.sample(members, cap))
    return out
