"""Feature assembly for the policy: what the request says about the post and its author.

Features are named scalars; ``None`` means unknown. They are logged with every decision
(so retraining sees exactly what was served). Redis-backed author counters join here when
the feature store lands; until then the request's own metadata is the only source.
"""

from __future__ import annotations

from modgate.types import FeatureValue, Post


def assemble_features(post: Post) -> dict[str, FeatureValue]:
    a = post.author
    return {
        "region": post.region.upper(),
        "language": post.language_hint.lower(),
        "text_chars": len(post.text),
        "images": len(post.images),
        "author_id": a.id or None,
        "author_account_age_days": a.account_age_days,
        "author_followers": a.followers,
        "author_prior_violations": a.prior_violations,
        "author_posts_last_hour": a.posts_last_hour,
    }
