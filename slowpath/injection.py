"""A deterministic prompt-injection detector for post text sent to the LLM judge.

The judge's system prompt already tells the model that the post is data between fence
markers and that any instruction inside it must be ignored and reported. That is the first
layer, and it can fail: a model may still obey. ``detect_injection`` is the second,
deterministic layer: a handful of stdlib regular expressions over a normalized copy of the
text (NFKC, common Cyrillic/Greek look-alikes folded to Latin, zero-width characters removed,
casefolded, whitespace collapsed), plus a letters-only pass so that spaced-out or dotted
phrases ("i.g.n.o.r.e previous instructions") match too. A detected attempt is flagged, never
obeyed: the judgement carries ``injection_suspected=True``, which makes it non-final, so the
post goes to human moderators whatever the model answered. The patterns aim at phrases
addressed to a model; ordinary posts ("the instructions for my sewing machine") must not match.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["INJECTION_PATTERNS", "detect_injection", "normalize_for_detection"]

# Characters that render as nothing (or as a space) and are used to split trigger words.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\ufeff"),
    None,
)
# Look-alike letters that NFKC leaves alone (Cyrillic and Greek lower case, after casefold).
_CONFUSABLES = str.maketrans(
    "аеорсухіјѕԁɡһкмтвнαεικνορτυχ",
    "aeopcyxijsdghkmtbhaeikvoptyx",
)
_WS_WITH_NEWLINE = re.compile(r"[^\S\n]*\n\s*")
_WS = re.compile(r"[^\S\n]+")
_NOT_LETTER = re.compile(r"[^a-z]+")

_VERB_IGNORE = r"(?:ignore|disregard|forget|override|overrule|skip|bypass)"
_QUALIFIER = (
    r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|"
    r"moderation|safety|your)"
)
_RULES = r"(?:instructions?|rules?|prompts?|directions?|directives?|guidelines?|policy|policies)"
_FILLER = r"(?:\s+(?:all|any|of|the|your|my|these|those|every|everything|and))*"
_AI = (
    r"(?:ai|a\.i\.|assistant|model|language model|llm|chatbot|bot|gpt|chatgpt|dan|moderator|"
    r"system|admin|administrator|developer|jailbroken|unrestricted|unfiltered|uncensored|"
    r"(?:\w+\s+)?mode)"
)
_VERDICT_WORD = (
    r"(?:allow(?:ed)?|clean|safe|harmless|benign|compliant|acceptable|not harmful|"
    r"not (?:a )?violation|no violation|not violating|non-violating|does not violate|"
    r"violates\W{0,3}\s*[:=]\s*false)"
)

# (name, pattern): the names are what ``detect_injection`` reports, in this order.
INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ignore_instructions",
        re.compile(
            rf"\b{_VERB_IGNORE}{_FILLER}\s+{_QUALIFIER}\s+{_RULES}\b"
            rf"|\b{_VERB_IGNORE}{_FILLER}\s+{_RULES}\s+"
            r"(?:above|before|you (?:were|have been) given)\b"
        ),
    ),
    (
        "role_override",
        re.compile(
            rf"\b(?:you are now|you're now|from now on,? you are|act as|acting as|pretend (?:to be|"
            rf"you are|you're)|role-?play as|you are no longer)\s+(?:an?\s+|the\s+|my\s+)?"
            rf"(?:[\w-]+\s+){{0,2}}?{_AI}\b"
            r"|\b(?:enter|enable|activate|switch to)\s+(?:dan|developer|god|jailbreak|debug) mode\b"
        ),
    ),
    (
        "system_prompt",
        re.compile(
            r"\b(?:system|developer|hidden|initial)\s+(?:prompt|message|instructions?)\b"
            r"|\b(?:new|updated|real|actual|additional)\s+(?:instructions?|rules?)\s*:"
        ),
    ),
    (
        "verdict_dictation",
        re.compile(
            r"\b(?:respond|reply|answer|output|return|print|say)(?:\s+(?:only|just|exactly))?"
            r"(?:\s+(?:with|that|by saying))?(?:\s+(?:this|the|my)\s+(?:post|content|message|"
            rf"text|comment)(?:\s+(?:is|as))?)?\s*:?\s*[\"'`{{(\[]*\s*{_VERDICT_WORD}"
            r"|\b(?:classify|mark|label|rate|flag|judge|categori[sz]e)\s+(?:this|the|my|it)"
            r"(?:\s+(?:post|content|message|text|comment))?(?:\s+as)?\s+[\"'`]?"
            rf"{_VERDICT_WORD}"
        ),
    ),
    (
        "role_marker",
        re.compile(
            r"<\|\s*(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|"
            r"start_header_id|end_header_id|begin_of_text)\s*\|>"
            r"|\[/?inst\]|<<\s*/?sys\s*>>|#{2,}\s*(?:system|assistant|instructions?|response)\b"
            r"|</?\s*(?:post|system|assistant|user|instructions?|data)\s*>|<<<\s*(?:end\s+)?post\b"
            r"|^(?:system|assistant|developer)\s*:",
            re.MULTILINE,
        ),
    ),
    (
        "answer_schema_json",
        re.compile(
            r"[\"'`]\s*(?:violates|confidence|rationale)\s*[\"'`]\s*[:=]"
            r"|[{,]\s*violates\s*[:=]\s*(?:true|false)\b"
        ),
    ),
)

_NAMES = tuple(name for name, _ in INJECTION_PATTERNS)

# The letters-only pass: catches "i g n o r e previous instructions" and similar spacing.
_SQUEEZED = (
    (
        "ignore_instructions",
        re.compile(
            r"(?:ignore|disregard|forget)(?:all|any|the|your)*"
            r"(?:previous|prior|above|earlier|system)(?:instructions?|rules|prompts?)"
        ),
    ),
    ("system_prompt", re.compile(r"systemprompt|developermessage")),
    ("role_override", re.compile(r"youarenow(?:an?|the)?(?:ai|assistant|dan|unrestricted)")),
)


def normalize_for_detection(text: str) -> str:
    """NFKC, fold look-alikes, drop invisible characters, casefold, and collapse whitespace
    (a run containing a line break becomes one newline; any other run one space)."""
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    folded = folded.translate(_CONFUSABLES)
    folded = _WS_WITH_NEWLINE.sub("\n", folded)
    return _WS.sub(" ", folded).strip()


def detect_injection(text: str) -> tuple[str, ...]:
    """Names of the prompt-injection patterns found in ``text`` (empty when none)."""
    if not text:
        return ()
    normalized = normalize_for_detection(text)
    found = {name for name, pattern in INJECTION_PATTERNS if pattern.search(normalized)}
    squeezed = _NOT_LETTER.sub("", normalized)
    found |= {name for name, pattern in _SQUEEZED if pattern.search(squeezed)}
    return tuple(name for name in _NAMES if name in found)
