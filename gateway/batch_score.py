"""Batch scoring of JSONL files through exactly the serving path, in process: ``modgate score``.

Each input line is ``{"id": ..., "text": ...}`` (optional ``"region"``, ``"language"``).
Lines are grouped into batches and go through what a ``Moderate`` call runs — the same
``Post`` validation limits, feature assembly (normalization flags, language id), the
configured classifiers through ``fan_out`` (normalization, tokenizer, ONNX Runtime) and
``decide`` under the loaded policy — except that the deadline is generous (a batch job
waits for its models rather than degrading). Each output line is
``{"id", "scores": {category: probability}, "action", "language", "reasons", "normalized"}``,
in input order, so anyone can evaluate the shipped models on their own labelled data.

A malformed line (not JSON, no ``id``/``text``, wrong types, text over the size limit)
stops the job with ``BadInputError`` naming the line and the field; nothing is skipped
silently.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from decision import Policy, decide
from gateway.fanout import fan_out
from gateway.features import TextAnalyzer, assemble_features
from models.interface import Classifier
from models.lists import Lists
from modgate.errors import BadInputError
from modgate.settings import GatewaySettings
from modgate.types import Post

BATCH_DEADLINE_S = 120.0


@dataclass
class ScoreSummary:
    """What a scoring run did: rows, verdict mix, models that were missing."""

    rows: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)


def _post(line_no: int, raw: str, settings: GatewaySettings) -> Post:
    where = f"line {line_no}"
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise BadInputError(where, f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadInputError(where, "expected a JSON object")
    unknown = set(doc) - {"id", "text", "region", "language"}
    if unknown:
        raise BadInputError(f"{where}: {sorted(unknown)[0]}", "unknown field")
    post_id, text = doc.get("id"), doc.get("text")
    if not isinstance(post_id, str | int) or isinstance(post_id, bool) or str(post_id) == "":
        raise BadInputError(f"{where}: id", "must be a non-empty string or integer")
    if not isinstance(text, str):
        raise BadInputError(f"{where}: text", "must be a string")
    if len(text) > settings.max_text_chars:
        raise BadInputError(f"{where}: text", f"longer than {settings.max_text_chars} characters")
    for key in ("region", "language"):
        if not isinstance(doc.get(key, ""), str):
            raise BadInputError(f"{where}: {key}", "must be a string")
    return Post(
        post_id=str(post_id),
        text=text,
        region=str(doc.get("region", "")),
        language_hint=str(doc.get("language", "")),
    )


def _batches(lines: IO[str], settings: GatewaySettings, size: int) -> Iterator[list[Post]]:
    batch: list[Post] = []
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        batch.append(_post(line_no, raw, settings))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def score_posts(
    posts: Sequence[Post],
    classifiers: Mapping[str, Classifier],
    policy: Policy,
    analyzer: TextAnalyzer,
) -> list[dict[str, Any]]:
    """Score one batch the way the gateway does; one output record per post."""
    texts = [analyzer.analyze(p) for p in posts]
    features = [assemble_features(p, text) for p, text in zip(posts, texts, strict=True)]
    loop = asyncio.get_running_loop()
    scored = await fan_out(classifiers, posts, deadline=loop.time() + BATCH_DEADLINE_S)
    out = []
    for post, feats, result, text in zip(posts, features, scored, texts, strict=True):
        verdict = decide(
            result.scores,
            feats,
            policy,
            missing=result.missing_categories,
            evidence=result.evidence,
            listed=text.listed,
        )
        out.append(
            {
                "id": post.post_id,
                "scores": {k: round(v, 6) for k, v in sorted(verdict.scores.items())},
                "action": verdict.action.value,
                "language": feats["language"],
                "reasons": list(verdict.reason_codes),
                "normalized": feats["text_normalization"],
                **({"missing": dict(result.missing_models)} if result.missing_models else {}),
            }
        )
    return out


async def score_file(
    src: IO[str],
    dst: IO[str],
    *,
    settings: GatewaySettings,
    policy: Policy,
    classifiers: Mapping[str, Classifier],
    batch_size: int = 64,
) -> ScoreSummary:
    """Read JSONL posts from ``src``, write one JSON verdict line per post to ``dst``."""
    summary = ScoreSummary()
    analyzer = TextAnalyzer(lists=Lists(settings.lists.path) if settings.lists.enabled else None)
    for batch in _batches(src, settings, batch_size):
        for record in await score_posts(batch, classifiers, policy, analyzer):
            dst.write(json.dumps(record, ensure_ascii=False) + "\n")
            summary.rows += 1
            summary.actions[record["action"]] = summary.actions.get(record["action"], 0) + 1
            for name in record.get("missing", {}):
                summary.missing[name] = summary.missing.get(name, 0) + 1
    return summary


def score_paths(
    src: Path, dst: Path, *, settings: GatewaySettings, policy: Policy, batch_size: int = 64
) -> ScoreSummary:
    """``score_file`` over paths with the configured classifiers, closed afterwards."""
    from gateway.server import load_classifiers

    async def run() -> ScoreSummary:
        classifiers = load_classifiers(settings)
        try:
            with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
                return await score_file(
                    fin,
                    fout,
                    settings=settings,
                    policy=policy,
                    classifiers=classifiers,
                    batch_size=batch_size,
                )
        finally:
            for clf in classifiers.values():
                await clf.aclose()

    return asyncio.run(run())
