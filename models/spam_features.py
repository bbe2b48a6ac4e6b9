"""Spam feature builder: one float32 row per post, identical at training and serving time.

Three groups, in a fixed order (``FEATURE_NAMES``):
- text shape: length, words, URLs, e-mails, phone numbers, short codes, money/prize terms,
  calls to action, uppercase / digit / punctuation / non-ASCII ratios, longest repeat run;
  and the social-media shape (version 2): hashtags, @mentions, distinct link hosts, links to
  URL shorteners, contact-me terms ("dm", "whatsapp", "telegram"), investment-scam terms
  ("forex", "bitcoin", "profit"), promotion terms ("subscribe", "my channel"), emoji ratio;
- author: account age, followers, posting rate, prior violations — ``NaN`` when unknown
  (never zero: XGBoost learns a default branch for missing values);
- hashed word unigrams and bigrams (``HASH_BUCKETS`` counts, signed-free CRC32 buckets), so
  the trees can see vocabulary without a fitted vocabulary file that could drift. Words are
  read from the *normalized* text (``modgate/textnorm.py``: leetspeak, homoglyphs and
  "fancy" letters folded, the same normalization the text model and the lists see), in any
  script; a long run of letters without spaces (Chinese, Japanese, Thai) is read as
  character bigrams.

``FEATURES_VERSION`` names this layout *and meaning*; a model records the version it was
trained on and ``models/spam.py`` refuses to load one built for another.

Hashing uses ``zlib.crc32`` (stable across processes), never Python's salted ``hash``.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

from models.lists import link_hosts
from models.text import normalize_cached
from modgate.types import Author

FEATURES_VERSION = 2
HASH_BUCKETS = 512
# Text features are read from the first this many characters (``chars`` counts them all):
# spam says what it wants early, the training messages are at most 910 characters, and the
# work per post stays bounded (a 10,000-character post cost ~40 ms of regexes and hashing on
# an inference thread, holding the GIL against the event loop).
FEATURE_CHARS = 2_000

# Linear in the text, whatever it holds: a domain or an address may only start where its run
# of characters starts (the lookbehinds); without them "a.+-" x 2,500 took 0.37 s (each
# position rescanned the run for an "@"), "a-" x 5,000 3.3 s. The counts are unchanged on all
# 30,357 texts of the SMS and Davidson sets (a domain glued to a leading "-" no longer counts).
_URL = re.compile(
    r"(?i)\b(?:https?://|www\.)\S+"
    r"|(?<![a-z0-9-])\b[a-z0-9-]+\.(?:com|net|org|co\.uk|biz|info|ly)\b"
)
_EMAIL = re.compile(r"(?i)(?<![\w.+-])\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_PHONE = re.compile(r"(?:\+?\d[\s-]?){9,14}\d")
_SHORT_CODE = re.compile(r"(?<!\d)\d{5}(?!\d)")
_MONEY = re.compile(
    r"(?i)[£$€]\s?\d|\b\d+\s?(?:p|pence|gbp|usd|eur|ppm|ppw)\b|\b(?:cash|prize|won|win|winner|"
    r"award(?:ed)?|reward|bonus|voucher|guaranteed|free|offer|claim|selected|congratulations)\b"
)
_CALL_TO_ACTION = re.compile(
    r"(?i)\b(?:call|txt|text|reply|send|click|visit|subscribe|unsubscribe|stop|opt ?out|"
    r"order|apply|dial|urgent|now|today|expires?|valid)\b"
)
_REPEAT = re.compile(r"(.)\1+")
_TOKEN = re.compile(r"[£$€]?[^\W_]+")
_HASHTAG = re.compile(r"(?<![\w#])#[^\W_][\w]*")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]{2,}")
_SHORTENERS = frozenset(
    [
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "cutt.ly",
        "rb.gy",
        "shorturl.at",
        "tiny.cc",
        "t.ly",
        "bl.ink",
        "rebrand.ly",
        "linktr.ee",
        "lnkd.in",
        "s.id",
        "v.gd",
    ]
)
_CONTACT = re.compile(
    r"(?i)\b(?:dm|pm|inbox|whats ?app|telegram|signal|wechat|kik|snapchat|contact|"
    r"message me|text me|write to me|reach (?:out|me)|get in touch|link in (?:my )?bio)\b"
)
_INVESTMENT = re.compile(
    r"(?i)\b(?:invest(?:ed|ing|ment|ments|or|ors)?|crypto(?:currency)?|bitcoins?|btc|eth|"
    r"forex|trad(?:e|ing|er)|profits?|income|earn(?:ed|ing|ings)?|passive|mining|payouts?|"
    r"returns?|withdraw(?:al|n)?|account manager|financial|recover(?:y|ed)?|hack(?:ed|er)?)\b"
)
_PROMOTION = re.compile(
    r"(?i)\b(?:subscribe|subscribers?|my (?:channel|page|profile|account|video|site|shop)|"
    r"check (?:out|it out)|follow (?:me|back|us)|promo(?:tion)?|giveaway|discount|coupon|"
    r"sale|deal|limited|followers|likes|views)\b"
)
# A token this long without spaces, outside ASCII, is a run of a script without word
# breaks (Chinese, Japanese, Thai): it is hashed as character bigrams instead.
_RUN_CHARS = 8

TEXT_FEATURES = (
    "chars",
    "words",
    "urls",
    "emails",
    "phone_numbers",
    "short_codes",
    "money_terms",
    "call_to_action_terms",
    "upper_ratio",
    "digit_ratio",
    "punct_ratio",
    "non_ascii_ratio",
    "exclamations",
    "max_repeat_run",
    "mean_word_len",
    "hashtags",
    "mentions",
    "link_hosts",
    "shortener_links",
    "contact_terms",
    "investment_terms",
    "promotion_terms",
    "emoji_ratio",
)
AUTHOR_FEATURES = ("account_age_days", "followers", "posts_last_hour", "prior_violations")
FEATURE_NAMES: tuple[str, ...] = (
    *TEXT_FEATURES,
    *AUTHOR_FEATURES,
    *(f"hash_{i:03d}" for i in range(HASH_BUCKETS)),
)
N_FEATURES = len(FEATURE_NAMES)
_HASH_OFFSET = len(TEXT_FEATURES) + len(AUTHOR_FEATURES)


def spam_shaped(text: str) -> bool:
    """Whether ``text`` has what SMS spam is made of (a phone number, a short code, a sum of
    money or a prize word, a link): training keeps every legitimate post like this."""
    head = text[:FEATURE_CHARS]
    return any(p.search(head) for p in (_PHONE, _SHORT_CODE, _MONEY, _URL))


def _opt(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def _text_shape(text: str) -> list[float]:
    n = len(text) or 1
    words = text.split()
    upper = digits = punct = non_ascii = emoji = 0
    for ch in text:
        if ch.isupper():
            upper += 1
        elif ch.isdigit():
            digits += 1
        elif not ch.isalnum() and not ch.isspace():
            punct += 1
        if ord(ch) > 127:
            non_ascii += 1
            if unicodedata.category(ch) == "So":
                emoji += 1
    letters = sum(1 for ch in text if ch.isalpha()) or 1
    longest = max((len(m.group(0)) for m in _REPEAT.finditer(text)), default=1 if text else 0)
    hosts = link_hosts(text)
    return [
        float(len(text)),
        float(len(words)),
        float(len(_URL.findall(text))),
        float(len(_EMAIL.findall(text))),
        float(len(_PHONE.findall(text))),
        float(len(_SHORT_CODE.findall(text))),
        float(len(_MONEY.findall(text))),
        float(len(_CALL_TO_ACTION.findall(text))),
        upper / letters,
        digits / n,
        punct / n,
        non_ascii / n,
        float(text.count("!")),
        float(longest),
        (sum(len(w) for w in words) / len(words)) if words else 0.0,
        float(len(_HASHTAG.findall(text))),
        float(len(_MENTION.findall(text))),
        float(len(set(hosts))),
        float(sum(1 for h in hosts if h.removeprefix("www.") in _SHORTENERS)),
        float(len(_CONTACT.findall(text))),
        float(len(_INVESTMENT.findall(text))),
        float(len(_PROMOTION.findall(text))),
        emoji / n,
    ]


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if len(token) > _RUN_CHARS and not token.isascii():
            tokens.extend(token[i : i + 2] for i in range(len(token) - 1))
        else:
            tokens.append(token)
    return tokens


def _hash_tokens(text: str, row: np.ndarray) -> None:
    # The whole post's normalization (memoized: the text model and the lists read the same
    # one), then its head.
    tokens = _tokens(normalize_cached(text).text[:FEATURE_CHARS])
    grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    for gram in grams:
        row[_HASH_OFFSET + zlib.crc32(gram.encode()) % HASH_BUCKETS] += 1.0


def build_features(texts: Sequence[str], authors: Sequence[Author | None]) -> np.ndarray:
    """Feature matrix of shape (len(texts), N_FEATURES), float32, NaN for unknown author data."""
    if len(texts) != len(authors):
        raise ValueError(f"{len(texts)} texts but {len(authors)} authors")
    out = np.zeros((len(texts), N_FEATURES), dtype=np.float32)
    for i, (text, author) in enumerate(zip(texts, authors, strict=True)):
        a = author or Author()
        head = text[:FEATURE_CHARS]
        out[i, : len(TEXT_FEATURES)] = _text_shape(head)
        out[i, 0] = float(len(text))  # "chars": the whole post
        out[i, len(TEXT_FEATURES) : _HASH_OFFSET] = [
            _opt(a.account_age_days),
            _opt(a.followers),
            _opt(a.posts_last_hour),
            _opt(a.prior_violations),
        ]
        _hash_tokens(text, out[i])
    return out
