"""Typed policy: per-category thresholds with region and language overrides, loaded from YAML.

A policy is data, never Python constants. ``load_policy`` validates everything at boot:
thresholds in [0, 1], ``defer_above <= remove_above``, severe categories never allowed
when their model is missing, and spike-mode bounds that stay below the REMOVE line.
Overrides layer on the base in a fixed order (base, then region, then language); an
override sets only the fields it names.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from decision.errors import PolicyError
from modgate.types import CATEGORY_PATTERN, Category

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ThresholdOverride(_Frozen):
    """Fields an override may change; unset fields keep the value beneath them."""

    remove_above: Probability | None = None
    defer_above: Probability | None = None
    spike_max_defer_above: Probability | None = None


class CategoryPolicy(_Frozen):
    """Thresholds for one category. A score >= ``remove_above`` removes; >= ``defer_above``
    defers. ``remove_above: null`` means this category never removes automatically."""

    remove_above: Probability | None
    defer_above: Probability
    severe: bool = False
    on_missing: Literal["allow", "defer"] = "defer"
    # Spike mode may raise defer_above up to this bound, never further (None: no raise).
    spike_max_defer_above: Probability | None = None
    description: str = ""
    # What a score of this category is about: the post's text, or its images. The slow path's
    # LLM judge reads text only, so it never allows a post deferred for an ``images`` category.
    seen_in: Literal["text", "images"] = "text"
    # The model's score alone never removes: ``remove_above`` applies only when a behaviour
    # signal of this category fired too (``Policy.behaviour``); otherwise the post defers.
    remove_requires_evidence: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.remove_above is not None and self.defer_above > self.remove_above:
            raise ValueError(
                f"defer_above ({self.defer_above}) must be <= remove_above ({self.remove_above})"
            )
        if self.severe and self.on_missing != "defer":
            raise ValueError("a severe category must defer when its model is missing")
        spike = self.spike_max_defer_above
        if spike is not None:
            if spike < self.defer_above:
                raise ValueError("spike_max_defer_above must be >= defer_above")
            if self.remove_above is not None and spike > self.remove_above:
                raise ValueError("spike_max_defer_above must be <= remove_above")
        return self

    def merged(self, override: ThresholdOverride | None) -> CategoryPolicy:
        if override is None:
            return self
        changes = override.model_dump(exclude_unset=True)
        return CategoryPolicy.model_validate({**self.model_dump(), **changes})


class OverrideSet(_Frozen):
    """Per-category overrides for one region or language."""

    categories: dict[Category, ThresholdOverride] = Field(default_factory=dict)


class RegionOverrides(OverrideSet):
    """A policy region: its own name plus member codes (e.g. EU: [DE, FR, …])."""

    members: frozenset[str] = frozenset()


class SpikePolicy(_Frozen):
    """How far spike mode may relax auto-allow: defer_above rises by ``raise_by``,
    capped per category by ``spike_max_defer_above``."""

    raise_by: Probability = 0.0


class ImagesPolicy(_Frozen):
    """Images whose text could not be read in the synchronous path: ``ocr: skipped_budget``
    (the deadline left too little time) or ``ocr: deferred`` (OCR configured for the slow
    path). ``defer`` allows the post now and sends it to the slow path, where the text is
    read; ``allow`` accepts that text inside images goes unchecked."""

    on_ocr_unread: Literal["defer", "allow"] = "defer"


class BehaviourSignal(_Frozen):
    """Evidence from what the gateway measured about a post's author and its copies (a
    feature, ``gateway/behaviour.py``): when ``feature`` reaches ``at_least`` the post is
    deferred for ``category`` (reason ``<category>.<signal name>``), and the category's
    ``remove_above`` may remove it even where ``remove_requires_evidence`` is set."""

    category: Category
    feature: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    at_least: Annotated[float, Field(gt=0)]
    description: str = ""


StrikeSource = Literal["moderator", "llm", "auto"]


def _default_sources() -> dict[StrikeSource, float]:
    # A moderator's or the judge's removal counts fully; the gateway's own auto-removals half
    # (nobody looked at them).
    return {"moderator": 1.0, "llm": 1.0, "auto": 0.5}


class StrikesPolicy(_Frozen):
    """How removals count against an author (``decision/strikes.py``).

    A removal adds ``weights[category]`` (default 1) × ``sources[source]`` strikes in its
    category, counted for ``window_days[category]`` (default ``default_window_days``) after
    it. At ``lower_remove_at`` strikes or more in a category, that category's ``remove_above``
    drops by ``lower_remove_by`` for the author's posts (never below ``defer_above``, and
    never where the policy does not auto-remove at all). ``lower_remove_at: null`` turns the
    lowering off; the strikes remain features (``author_strikes_<category>``) that behaviour
    signals may use (e.g. a repeat spammer as spam evidence).
    """

    default_window_days: Annotated[float, Field(gt=0, le=400)] = 90.0
    window_days: dict[Category, Annotated[float, Field(gt=0, le=400)]] = Field(default_factory=dict)
    weights: dict[Category, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    sources: dict[StrikeSource, Annotated[float, Field(ge=0)]] = Field(
        default_factory=_default_sources
    )
    lower_remove_at: Annotated[float, Field(gt=0)] | None = 3.0
    lower_remove_by: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05

    def window_s(self, category: Category) -> float:
        return self.window_days.get(category, self.default_window_days) * 86_400.0


class JudgePolicy(_Frozen):
    """How far the slow path trusts its LLM judge: an opinion at or above
    ``auto_decide_confidence`` becomes the final outcome; anything less goes to moderators."""

    auto_decide_confidence: Probability = 0.85


class Policy(_Frozen):
    version: Annotated[str, Field(min_length=1)]
    categories: dict[Category, CategoryPolicy]
    regions: dict[str, RegionOverrides] = Field(default_factory=dict)
    languages: dict[str, OverrideSet] = Field(default_factory=dict)
    on_all_missing: Literal["defer", "remove"] = "defer"
    spike: SpikePolicy = SpikePolicy()
    judge: JudgePolicy = JudgePolicy()
    images: ImagesPolicy = ImagesPolicy()
    behaviour: dict[str, BehaviourSignal] = Field(default_factory=dict)
    strikes: StrikesPolicy = StrikesPolicy()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.categories:
            raise ValueError("a policy must define at least one category")
        for name in self.categories:
            if not CATEGORY_PATTERN.match(name):
                raise ValueError(f"category name {name!r} must be lower snake case")
        for name, signal in self.behaviour.items():
            if not CATEGORY_PATTERN.match(name):
                raise ValueError(f"behaviour signal name {name!r} must be lower snake case")
            if signal.category not in self.categories:
                raise ValueError(f"behaviour.{name}: unknown category {signal.category!r}")
        _check_strike_categories(self.strikes, self.categories)
        for kind, table in (("regions", self.regions), ("languages", self.languages)):
            for key, overrides in table.items():
                for cat in overrides.categories:
                    if cat not in self.categories:
                        raise ValueError(f"{kind}.{key}: unknown category {cat!r}")
                for cat in self.categories:
                    # Validate every merged combination now, not at the first request.
                    self.categories[cat].merged(overrides.categories.get(cat))
        return self

    @cached_property
    def _region_of(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for name, region in self.regions.items():
            index[name.upper()] = name
            for member in region.members:
                index.setdefault(member.upper(), name)
        return index

    def region_for(self, code: str) -> str | None:
        """The policy region a request region code belongs to, if any."""
        return self._region_of.get(code.upper()) if code else None

    @cached_property
    def _effective_cache(self) -> dict[tuple[str, str | None, str], CategoryPolicy]:
        return {}

    def effective(
        self, category: Category, *, region: str = "", language: str = ""
    ) -> CategoryPolicy:
        """The category's thresholds after region, then language overrides (memoized)."""
        region_name = self.region_for(region)
        lang = language.split("-", maxsplit=1)[0].lower() if language else ""
        lang = lang if lang in self.languages else ""
        key = (category, region_name, lang)
        cached = self._effective_cache.get(key)
        if cached is None:
            cached = self.categories[category]
            if region_name is not None:
                cached = cached.merged(self.regions[region_name].categories.get(category))
            if lang:
                cached = cached.merged(self.languages[lang].categories.get(category))
            self._effective_cache[key] = cached
        return cached


def _check_strike_categories(
    strikes: StrikesPolicy, categories: dict[Category, CategoryPolicy]
) -> None:
    for field_name, table in (("window_days", strikes.window_days), ("weights", strikes.weights)):
        for cat in table:
            if cat not in categories:
                raise ValueError(f"strikes.{field_name}: unknown category {cat!r}")


def parse_policy(document: object, *, source: str = "<policy>") -> Policy:
    """Validate a parsed YAML/JSON document as a Policy, or raise PolicyError."""
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(f"invalid policy {source}:\n{exc}") from exc


def load_policy(path: Path) -> Policy:
    """Read and validate a policy YAML file, or raise PolicyError saying what is wrong."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {path} is not valid YAML: {exc}") from exc
    return parse_policy(document, source=str(path))
