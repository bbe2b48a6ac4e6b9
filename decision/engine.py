"""``decide``: scores + features + policy -> Verdict. Pure, deterministic, no I/O.

One function per rule. For every category the policy defines, exactly one of these fires:
``<cat>.remove_above``, ``<cat>.defer_above``, ``<cat>.spike_allow`` (spike mode let a
score that would have deferred through), or ``<cat>.model_missing`` (its model was late or
failed: severe categories always DEFER, others follow ``on_missing``). Post-wide rules:
``all.models_missing`` when no model answered at all, ``ocr.unread`` when a post's images
were not read by OCR in time (feature ``ocr`` is ``skipped_budget``, ``deferred`` or ``failed``; the
policy's ``images.on_ocr_unread`` says what then), ``images.undecoded`` (DEFER) when feature
``images_undecoded`` counts images not decoded in time, ``all.below_thresholds`` when nothing
else fired. ``evidence`` (e.g. the hash-bank entry an image matched) is cited right after
its category's rule, with that rule's action. Behaviour signals (``policy.behaviour``: a
feature the gateway measured, such as near-duplicates by other authors, at or above its
line) fire ``<category>.<signal>`` and defer the post; a category with
``remove_requires_evidence`` removes only when one of its signals fired, and otherwise its
``remove_above`` rule becomes ``<category>.remove_needs_evidence`` (DEFER). ``listed`` are the
post's hits on the trust-and-safety lists (``models/lists.py``), as reasons
``<category>.list.<reason>``: a block entry asks for its own action (REMOVE or DEFER) and is
evidence like a behaviour signal; an allow entry (action ALLOW) vetoes every removal in its
category, which then defers (``<category>.remove_vetoed``). An author with enough strikes in
a category (feature ``author_strikes_<category>``, ``policy.strikes``) meets a lower
``remove_above`` there (the reason's detail says so). The verdict's action is the most
severe action any rule asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from decision.policy import CategoryPolicy, Policy
from decision.strikes import strike_feature
from modgate.types import Action, Category, Features, Reason, Scores, Verdict, most_severe


def decide(
    scores: Scores,
    features: Features,
    policy: Policy,
    *,
    missing: Collection[Category] = (),
    spike: bool = False,
    evidence: Sequence[Reason] = (),
    listed: Sequence[Reason] = (),
) -> Verdict:
    """Decide one post.

    ``scores`` holds every category a model answered; ``missing`` the categories whose
    model was expected but late or failed. ``features`` may carry ``region`` and
    ``language``, which select the policy's overrides, and ``ocr``. ``spike`` turns on
    spike mode. ``evidence`` lists reasons a classifier gave for a category's score.
    """
    region = str(features.get("region") or "")
    language = str(features.get("language") or "")
    blocks = [r for r in listed if r.action is not Action.ALLOW]
    signals = _behaviour_signals(features, policy) + blocks
    vetoes = [r for r in listed if r.action is Action.ALLOW]
    reasons: list[Reason] = []
    for category in policy.categories:
        base = policy.effective(category, region=region, language=language)
        thresholds = _with_strikes(base, category, features, policy)
        fired = [signal for signal in signals if signal.category == category]
        vetoed = [veto for veto in vetoes if veto.category == category]
        if category in scores:
            reason = _threshold_rule(category, scores[category], thresholds, policy, spike)
            if reason is not None and thresholds is not base and reason.action is Action.REMOVE:
                strikes = features.get(strike_feature(category))
                reason = replace(
                    reason,
                    detail=f"remove_above lowered from {base.remove_above:g} for an author "
                    f"with {strikes:g} strikes in {category}",
                )
            if reason is not None and reason.action is Action.REMOVE and not fired:
                reason = _needs_evidence(reason, thresholds)
        elif category in missing:
            reason = _missing_rule(category, thresholds)
        else:  # no model serves this category in this deployment: behaviour and lists alone
            reason = None
        if vetoed and reason is not None and reason.action is Action.REMOVE:
            reason = _vetoed(reason)
        action = reason.action if reason is not None else Action.ALLOW
        if reason is not None:
            reasons.append(reason)
        if category in scores or category in missing:
            reasons.extend(
                replace(e, action=action, category=category)
                for e in evidence
                if e.category == category
            )
        # A signal or block-list hit asks for its own action (behaviour: DEFER), and takes a
        # removal's action when it is that removal's evidence; an allow-list hit (a veto)
        # means this category never removes this post.
        cited = [replace(s, action=most_severe([action, s.action])) for s in fired]
        if vetoed:
            cited = [
                replace(r, action=Action.DEFER) if r.action is Action.REMOVE else r for r in cited
            ]
            reasons.extend(vetoed)
        reasons.extend(cited)
    for post_wide in (_ocr_rule(features, policy), _undecoded_rule(features)):
        if post_wide is not None:
            reasons.append(post_wide)
    reasons.extend(_post_wide_rules(scores, missing, reasons, policy))
    reasons.sort(key=lambda r: -r.action.severity)
    return Verdict(
        action=most_severe([r.action for r in reasons]),
        scores=dict(scores),
        reasons=tuple(reasons),
        policy_version=policy.version,
        missing_categories=tuple(sorted(missing)),
        spike_mode=spike,
    )


def _threshold_rule(
    category: Category, score: float, thresholds: CategoryPolicy, policy: Policy, spike: bool
) -> Reason | None:
    remove_above = thresholds.remove_above
    if remove_above is not None and score >= remove_above:
        return Reason(f"{category}.remove_above", Action.REMOVE, category, score, remove_above)
    defer_above = _defer_threshold(thresholds, policy, spike)
    if score >= defer_above:
        return Reason(f"{category}.defer_above", Action.DEFER, category, score, defer_above)
    if score >= thresholds.defer_above:
        return Reason(
            f"{category}.spike_allow",
            Action.ALLOW,
            category,
            score,
            defer_above,
            f"spike mode raised defer_above from {thresholds.defer_above:g}",
        )
    return None


def _with_strikes(
    thresholds: CategoryPolicy, category: Category, features: Features, policy: Policy
) -> CategoryPolicy:
    """``thresholds`` with remove_above lowered for an author with enough strikes in the
    category (``policy.strikes``); unchanged where the category never auto-removes."""
    rules = policy.strikes
    if thresholds.remove_above is None or rules.lower_remove_at is None:
        return thresholds
    strikes = features.get(strike_feature(category))
    if isinstance(strikes, bool) or not isinstance(strikes, int | float):
        return thresholds
    if strikes < rules.lower_remove_at or rules.lower_remove_by <= 0:
        return thresholds
    lowered = max(thresholds.remove_above - rules.lower_remove_by, thresholds.defer_above)
    return thresholds.model_copy(update={"remove_above": round(lowered, 6)})


def _needs_evidence(removal: Reason, thresholds: CategoryPolicy) -> Reason:
    """A model removal where the category needs behaviour evidence and none fired: DEFER."""
    if not thresholds.remove_requires_evidence:
        return removal
    return Reason(
        f"{removal.category}.remove_needs_evidence",
        Action.DEFER,
        removal.category,
        removal.score,
        removal.threshold,
        "the model alone never removes this category: no behaviour signal fired",
    )


def _vetoed(removal: Reason) -> Reason:
    """A removal an allow-list entry vetoes: DEFER, so a person looks instead."""
    return Reason(
        f"{removal.category}.remove_vetoed",
        Action.DEFER,
        removal.category,
        removal.score,
        removal.threshold,
        "an allow-list entry vetoes removal in this category",
    )


def _behaviour_signals(features: Features, policy: Policy) -> list[Reason]:
    """The policy's behaviour signals whose feature reached its line (action DEFER)."""
    fired = []
    for name, signal in policy.behaviour.items():
        value = features.get(signal.feature)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if value >= signal.at_least:
            detail = signal.description or f"{signal.feature} = {value:g}"
            fired.append(
                Reason(
                    f"{signal.category}.{name}",
                    Action.DEFER,
                    signal.category,
                    float(value),
                    signal.at_least,
                    detail,
                )
            )
    return fired


def _defer_threshold(thresholds: CategoryPolicy, policy: Policy, spike: bool) -> float:
    """defer_above, raised in spike mode by ``spike.raise_by`` up to the category's bound."""
    bound = thresholds.spike_max_defer_above
    if not spike or bound is None:
        return thresholds.defer_above
    return round(min(thresholds.defer_above + policy.spike.raise_by, bound), 6)


def _missing_rule(category: Category, thresholds: CategoryPolicy) -> Reason:
    if thresholds.severe:
        detail = "severe category: its model is missing, so the post is deferred for review"
        return Reason(f"{category}.model_missing", Action.DEFER, category, detail=detail)
    action = Action.DEFER if thresholds.on_missing == "defer" else Action.ALLOW
    detail = f"model missing; policy on_missing={thresholds.on_missing}"
    return Reason(f"{category}.model_missing", action, category, detail=detail)


OCR_UNREAD = frozenset({"skipped_budget", "deferred", "failed"})
IMAGES_UNDECODED = "images.undecoded"


def _ocr_rule(features: Features, policy: Policy) -> Reason | None:
    status = features.get("ocr")
    if status not in OCR_UNREAD:
        return None
    action = Action(policy.images.on_ocr_unread)
    detail = f"text inside the images was not read (ocr: {status})"
    return Reason("ocr.unread", action, detail=detail)


def _undecoded_rule(features: Features) -> Reason | None:
    """Images the gateway could not decode in time were seen by no image model: never allow
    them unseen."""
    count = features.get("images_undecoded")
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        return None
    detail = f"{count} image(s) not decoded in time: no image model saw them"
    return Reason(IMAGES_UNDECODED, Action.DEFER, detail=detail)


def _post_wide_rules(
    scores: Scores, missing: Collection[Category], fired: list[Reason], policy: Policy
) -> list[Reason]:
    if missing and not scores:
        action = Action(policy.on_all_missing)
        detail = "no model answered; never allow silently"
        return [Reason("all.models_missing", action, detail=detail)]
    if not fired:
        return [Reason("all.below_thresholds", Action.ALLOW, detail="no threshold reached")]
    return []
