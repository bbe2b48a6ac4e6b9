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

Attackers write in every language the service reads, so the same four kinds of phrase
("ignore the previous instructions", "you are now", "system prompt", "answer: safe") are
covered in the languages the text model serves beyond English (``_MULTILINGUAL``): German,
French, Spanish, Italian, Portuguese, Dutch, Turkish, Arabic, Chinese, Japanese, Korean, Hindi
and Bengali, each under the English pattern's name.
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

# The same kinds of phrase in the other languages the text model serves, matched on the
# normalized (casefolded) text. Each alternative needs a word for "previous / above" with a
# word for "instructions / rules" and a verb for "ignore / forget", or a model-addressing
# phrase, so a post about the rules of a game does not match.
_MULTILINGUAL_IGNORE = (
    # de
    r"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen sie|missachte(?:n)?)\s+(?:(?:du|sie|bitte|"
    r"einfach|alle|die|deine|ihre)\s+)*(?:vorherigen|bisherigen|obigen|vorigen|früheren|"
    r"ursprünglichen)\s+(?:anweisungen|instruktionen|regeln|befehle|vorgaben)\b"
    r"|\b(?:vorherigen|bisherigen|obigen|vorigen)\s+(?:anweisungen|instruktionen|regeln)\s+"
    r"(?:ignorieren|vergessen)\b"
    # fr
    r"|\b(?:ignore[zr]?|oublie[zr]?|ne tiens pas compte (?:de|des))\s+(?:(?:toutes?|tous|"
    r"les|tes|vos|d[eu]s?)\s+)*(?:instructions|consignes|règles|directives)\s+"
    r"(?:précédentes|antérieures|ci-dessus|d'origine|initiales)\b"
    # es / pt / it
    r"|\b(?:ignora[rd]?|olvida[rd]?|ignore|esqueça|esquece|dimentica)\s+(?:(?:todas|tutte|"
    r"las|as|le|tus|suas|sus)\s+)*(?:instrucciones|instruções|istruzioni|reglas|regras|"
    r"regole|indicaciones)\s+(?:anteriores|previas|prévias|precedentes|precedenti|de arriba)\b"
    # nl
    r"|\b(?:negeer|vergeet)\s+(?:(?:alle|de|je|jouw)\s+)*(?:vorige|eerdere|voorgaande|"
    r"bovenstaande)\s+(?:instructies|regels|opdrachten)\b"
    # tr
    r"|\b(?:önceki|yukarıdaki)\s+(?:(?:tüm|bütün)\s+)?(?:talimatları|kuralları|komutları)\s+"
    r"(?:yok say|görmezden gel|unut)"
    # ar
    r"|(?:تجاهل|انس|انسى|اتجاهل)\s+(?:جميع\s+|كل\s+)?(?:التعليمات|الأوامر|القواعد|التوجيهات)\s+"
    r"(?:السابقة|الأصلية|أعلاه)"
    # zh / ja
    r"|(?:忽略|无视|忘记|忘掉|無視|忘れ)[了掉]?(?:你|您)?(?:之前|以上|先前|前面|上面|原来|所有|全部|"
    r"以前|前|上記)+[的の]?(?:所有)?(?:指令|指示|说明|規則|规则|提示|命令|ルール)"
    r"|(?:之前|以上|先前|前面|上面|以前|上記)[的の]?(?:所有)?(?:指令|指示|规则|提示|命令|ルール)を?"
    r"(?:都)?(?:忽略|无视|忘记|無視|忘れ)"
    # ko
    r"|(?:이전|위|앞|기존)의?\s*(?:모든\s*)?(?:지시|지침|명령|규칙|프롬프트)\w{0,2}\s*(?:모두\s*)?"
    r"(?:무시|잊어)"
    # hi / bn
    r"|(?:पिछले|पिछली|ऊपर के|पहले के)\s+(?:सभी\s+|सारे\s+)?(?:निर्देशों|निर्देश|नियमों|आदेशों)\s+"
    r"(?:को\s+)?(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल)"
    r"|(?:আগের|পূর্ববর্তী|উপরের)\s+(?:সব\s+|সমস্ত\s+)?(?:নির্দেশনা|নির্দেশ|নিয়ম)\S*\s+"
    r"(?:উপেক্ষা|ভুলে)"
)
_MULTILINGUAL_ROLE = (
    r"\b(?:du bist (?:jetzt|nun|ab sofort)|tu es maintenant|vous êtes maintenant|ahora eres|"
    r"agora você é|ora sei|je bent nu|artık sen)\s+(?:ein(?:e)?\s+|une?\s+|un(?:a|o)?\s+|"
    r"uma?\s+|een\s+|bir\s+)?(?:[\w-]+\s+){0,2}?(?:ki|ia|ai|assistent(?:in)?|assistant|"
    r"asistente|assistente|modell?|modèle|modelo|bot|chatbot|dan|moderator|modérateur|"
    r"moderador|moderatore|yapay zeka)\b"
    r"|(?:你现在是|你現在是|从现在开始你是|あなたは今|지금부터\s*(?:너는|당신은)|أنت الآن)"
)
_MULTILINGUAL_SYSTEM = (
    r"\b(?:systemprompt|system-prompt|systemanweisung(?:en)?|prompt (?:système|du système)|"
    r"invite système|instrucciones del sistema|prompt del sistema|prompt do sistema|"
    r"systeemprompt|sistem istemi)\b"
    r"|(?:系统提示|系統提示|システムプロンプト|시스템 프롬프트|موجه النظام|تعليمات النظام)"
)
_MULTILINGUAL_VERDICT = (
    r"\b(?:antworte|antworten sie|réponds|répondez|responde|responda|rispondi|antwoord|"
    r"cevap ver)\s+(?:(?:nur|einfach|uniquement|seulement|solo|solamente|apenas|alleen|"
    r"sadece)\s+)?(?:mit|par|avec|con|com|met|ile)?\s*[\"'`]?\s*(?:erlaubt|sicher|harmlos|"
    r"unbedenklich|autorisé|sûr|inoffensif|acceptable|permitido|seguro|inofensivo|"
    r"consentito|sicuro|innocuo|toegestaan|veilig|güvenli|izin verildi)\b"
    r"|\b(?:markiere|stufe|classe[zr]?|marque[zr]?|clasifica|marca|classifique|classifica|"
    r"markeer)\s+(?:diesen|diesen beitrag|ce|cette|este|esta|questo|questa|dit|deze)\s+"
    r"(?:\w+\s+)?(?:als|comme|como|come)\s+(?:erlaubt|sicher|harmlos|sûr|acceptable|"
    r"autorisé|seguro|permitido|sicuro|consentito|veilig|toegestaan)\b"
    r"|(?:回答|回复|输出|返回|判定为|标记为)[:：]?\s*[\"“]?(?:安全|允许|无害|合规)"
)
_MULTILINGUAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ignore_instructions", re.compile(_MULTILINGUAL_IGNORE)),
    ("role_override", re.compile(_MULTILINGUAL_ROLE)),
    ("system_prompt", re.compile(_MULTILINGUAL_SYSTEM)),
    ("verdict_dictation", re.compile(_MULTILINGUAL_VERDICT)),
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
    found |= {name for name, pattern in _MULTILINGUAL if pattern.search(normalized)}
    squeezed = _NOT_LETTER.sub("", normalized)
    found |= {name for name, pattern in _SQUEEZED if pattern.search(squeezed)}
    return tuple(name for name in _NAMES if name in found)
