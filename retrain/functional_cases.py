"""Our own English functional test cases for the toxicity / hate text classifier.

The public training data teaches slurs and profanity but not the functions that matter in
English: non-slur dehumanisation, threats, negation, counter-speech, and staying quiet on
neutral or positive mentions of identity groups. This module writes those cases itself, as
templates x fillers in the style of HateCheck (functionality names match Multilingual
HateCheck, plus HateCheck's ``slur_homonym_nh`` / ``slur_reclaimed_nh``, so reports line up;
no HateCheck sentence is copied). Labels are fixed per functionality in ``LABELS``. Cases are
split into train and test by template, never by sentence, so a test sentence never shares a
template with a training one; the split is stratified per functionality and seeded.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

__all__ = [
    "IDENTITIES",
    "LABELS",
    "FunctionalCase",
    "functional_cases",
    "write_cases_csv",
]


@dataclass(frozen=True, slots=True)
class FunctionalCase:
    """One labelled sentence, the template it came from and its split."""

    text: str
    toxicity: int  # 0/1
    hate: int  # 0/1
    functionality: str
    template_id: str  # e.g. "derog_dehum_h-03"
    target: str  # identity group name ("women", "Muslims", ...) or "" if none
    split: str  # "train" or "test"


# (group name, plural noun phrase used in templates); protected characteristics only.
IDENTITIES: tuple[tuple[str, str], ...] = (
    ("women", "women"),
    ("trans people", "trans people"),
    ("gay people", "gay people"),
    ("lesbians", "lesbians"),
    ("bisexual people", "bisexual people"),
    ("Black people", "Black people"),
    ("Asians", "Asian people"),
    ("Mexicans", "Mexicans"),
    ("Roma", "Roma"),
    ("Muslims", "Muslims"),
    ("Jews", "Jews"),
    ("Hindus", "Hindus"),
    ("Christians", "Christians"),
    ("immigrants", "immigrants"),
    ("refugees", "refugees"),
    ("disabled people", "disabled people"),
)

# (slur, plural, group it targets). Kept to a handful: the words are the point of slur_h.
_SLURS: tuple[tuple[str, str, str], ...] = (
    ("faggot", "faggots", "gay people"),
    ("dyke", "dykes", "lesbians"),
    ("tranny", "trannies", "trans people"),
    ("retard", "retards", "disabled people"),
    ("raghead", "ragheads", "Muslims"),
)
# Fillers for the contrast classes: none of them is a protected characteristic.
_THINGS = (
    "Mondays", "traffic jams", "spreadsheets", "tax forms", "airport queues", "rainy weekends",
    "group projects", "software updates", "parking tickets", "early meetings", "printers",
    "mosquitoes",
)  # fmt: skip
_PERSONS = (
    "my boss", "my ex", "that referee", "my landlord", "my coworker", "the guy next door",
    "that streamer", "my brother-in-law",
)  # fmt: skip
_GROUPS = (
    "politicians", "landlords", "estate agents", "telemarketers", "referees", "spammers",
    "influencers", "Chelsea fans", "tax collectors", "crypto bros",
)  # fmt: skip

# functionality -> (toxicity, hate). Reclaimed slurs are (0, 0): in-group self-description is
# neither an attack nor aimed at anyone, and marking it toxic would teach the model that
# LGBTQ people describing themselves is toxic -- the false positive these cases exist to fix.
# Abuse of individuals or of non-protected groups is toxic but not hate.
LABELS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(
        (
            "derog_neg_emote_h", "derog_neg_attrib_h", "derog_dehum_h", "derog_impl_h",
            "threat_dir_h", "threat_norm_h", "slur_h", "profanity_h", "ref_subs_clause_h",
            "ref_subs_sent_h", "negate_pos_h", "phrase_question_h", "phrase_opinion_h",
        ),
        (1, 1),
    ),
    **dict.fromkeys(("profanity_nh", "target_indiv_nh", "target_group_nh"), (1, 0)),
    **dict.fromkeys(
        (
            "ident_neutral_nh", "ident_pos_nh", "counter_quote_nh", "counter_ref_nh",
            "negate_neg_nh", "target_obj_nh", "slur_homonym_nh", "slur_reclaimed_nh",
        ),
        (0, 0),
    ),
}  # fmt: skip

# Slots: [IDENT] identity phrase, [SLUR]/[SLURS] slur singular/plural, [THING] plural
# object, [PERSON] an individual, [GROUP] a non-protected group. No slot: one case.
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "derog_neg_emote_h": (
        "I absolutely despise [IDENT].",
        "[IDENT] disgust me more than anything.",
        "Nothing makes my skin crawl like [IDENT] do.",
        "I can't stand being anywhere near [IDENT].",
        "My hatred for [IDENT] grows every single day.",
        "Honestly, [IDENT] make me sick to my stomach.",
        "Every time I see [IDENT] I feel pure loathing.",
    ),
    "derog_neg_attrib_h": (
        "[IDENT] are too stupid to think for themselves.",
        "All [IDENT] are liars and cheats.",
        "[IDENT] are lazy freeloaders who contribute nothing.",
        "You can't trust [IDENT], they are dishonest by nature.",
        "[IDENT] are violent and dangerous, every last one of them.",
        "[IDENT] are filthy and have no morals.",
        "[IDENT] are born criminals.",
    ),
    "derog_dehum_h": (
        "[IDENT] are vermin.",
        "[IDENT] are nothing but animals.",
        "[IDENT] are a plague on this country.",
        "[IDENT] are subhuman trash.",
        "[IDENT] are a disease spreading through our cities.",
        "[IDENT] are rats breeding in the gutters.",
        "[IDENT] are not even human.",
    ),
    "derog_impl_h": (
        "I wouldn't let [IDENT] anywhere near my kids.",
        "Funny how crime goes up wherever [IDENT] move in.",
        "Our street was so much nicer before [IDENT] showed up.",
        "Let's be real, [IDENT] were never meant to run anything important.",
        "I'd check my wallet twice if [IDENT] sat next to me.",
        "The world would be a better place without [IDENT] in it.",
        "Hiring [IDENT] is how you ruin a company.",
    ),
    "threat_dir_h": (
        "I'm going to make [IDENT] suffer.",
        "I will kill any [IDENT] who come near me.",
        "We're coming for [IDENT] with guns, and soon.",
        "I'll beat [IDENT] until they can't stand up.",
        "[IDENT] should watch their backs, because I am going to make them pay.",
        "I'm going to shoot every one of those [IDENT].",
    ),
    "threat_norm_h": (
        "[IDENT] should all be shot.",
        "Someone needs to wipe [IDENT] off the face of the earth.",
        "[IDENT] deserve to be beaten in the street.",
        "Hanging is too good for [IDENT].",
        "The only thing to do with [IDENT] is get rid of them for good.",
        "[IDENT] should be executed.",
        "Killing [IDENT] should be legal.",
    ),
    "slur_h": (
        "You are nothing but a [SLUR].",
        "Shut up, you stupid [SLUR].",
        "I don't want any [SLURS] in my house.",
        "There's a [SLUR] living next door to me now.",
        "[SLURS] like you should keep quiet.",
    ),
    "profanity_h": (
        "Fuck all [IDENT].",
        "[IDENT] are a bunch of worthless shits.",
        "I'm so fucking sick of [IDENT].",
        "Screw [IDENT], every damn one of them.",
        "[IDENT] are fucking disgusting.",
        "Nobody gives a shit about [IDENT], they are garbage.",
    ),
    "ref_subs_clause_h": (
        "I met some [IDENT] yesterday and they were as worthless as I expected.",
        "There are [IDENT] in my building and they disgust me.",
        "My new coworkers are [IDENT], and I wish they would all disappear.",
        "I've known plenty of [IDENT] and every one of them was a parasite.",
        "We have [IDENT] moving in next door, and they're all scum.",
    ),
    "ref_subs_sent_h": (
        "[IDENT] keep showing up on my feed. They are disgusting creatures.",
        "Have you noticed all the [IDENT] around here lately? They make me sick.",
        "I saw a group of [IDENT] at the station. They're a blight on this town.",
        "My city is full of [IDENT] now. They are the lowest form of life.",
        "Our school just hired more [IDENT]. I can't stand any of them.",
    ),
    "negate_pos_h": (
        "I will never respect [IDENT].",
        "[IDENT] are not worth anything to society.",
        "[IDENT] will never be equal to the rest of us.",
        "There's nothing valuable about [IDENT].",
        "[IDENT] don't deserve any rights.",
        "No one could ever love [IDENT].",
        "[IDENT] are not welcome here and never will be.",
    ),
    "phrase_question_h": (
        "Why are [IDENT] so stupid?",
        "Isn't it obvious that [IDENT] are worthless?",
        "Why do [IDENT] always have to ruin everything?",
        "Am I the only one who thinks [IDENT] are disgusting?",
        "Wouldn't everything be better if [IDENT] just vanished?",
        "How can anyone stand being around [IDENT]?",
    ),
    "phrase_opinion_h": (
        "I think [IDENT] are the worst people on earth.",
        "In my opinion, [IDENT] are a disgrace.",
        "I honestly believe [IDENT] are inferior.",
        "If you ask me, [IDENT] are nothing but trouble.",
        "I feel like [IDENT] are ruining this country.",
        "Personally, I find [IDENT] revolting.",
    ),
    "ident_neutral_nh": (
        "I live in a neighbourhood with a lot of [IDENT].",
        "There are many [IDENT] in my town.",
        "My flatmates are [IDENT].",
        "The report looks at how many [IDENT] work in tech.",
        "A new documentary about [IDENT] comes out next week.",
        "We had a meeting with some [IDENT] from the community centre.",
        "The survey asked [IDENT] about their commute.",
        "Several [IDENT] were interviewed for the article.",
        "The book club this month is run by [IDENT].",
        "Are there any [IDENT] on the committee?",
        "Most of my neighbours are [IDENT].",
        "The museum has a new exhibit on the history of [IDENT].",
    ),
    "ident_pos_nh": (
        "I love working with [IDENT].",
        "[IDENT] are wonderful people.",
        "Some of the kindest people I know are [IDENT].",
        "[IDENT] have made this city a better place.",
        "I'm proud to stand alongside [IDENT].",
        "We should celebrate the achievements of [IDENT].",
        "[IDENT] deserve the same respect as everyone else.",
        "My best friends are [IDENT] and I adore them.",
        "So many brilliant scientists are [IDENT].",
        "[IDENT] are welcome here, always.",
        "It's great to see more [IDENT] in leadership roles.",
        "Thank you to all the [IDENT] who volunteered this weekend.",
    ),
    "counter_quote_nh": (
        'Saying "[IDENT] are vermin" is disgusting and you should be ashamed.',
        'If you think "[IDENT] should all be shot", you need help.',
        'He said "I despise [IDENT]" and I reported him immediately.',
        'Statements like "[IDENT] are subhuman" have no place in our society.',
        '"[IDENT] are a plague" is a hateful lie, and I will keep calling it out.',
        'Someone wrote "kill all [IDENT]" under my post. That is vile.',
        'Stop posting "[IDENT] are worthless". It is bigotry, plain and simple.',
        'My uncle keeps saying "[IDENT] are animals" so I stopped visiting him.',
    ),
    "counter_ref_nh": (
        "Calling [IDENT] animals is dehumanising and wrong.",
        "People who threaten [IDENT] online should be banned.",
        "It's appalling how much abuse [IDENT] receive every day.",
        "The hate aimed at [IDENT] in these comments is sickening.",
        "Anyone who says [IDENT] are inferior is simply wrong.",
        "We need to stand up when someone insults [IDENT].",
        "Spreading lies about [IDENT] is not free speech, it is harassment.",
        "I'm tired of seeing [IDENT] treated like criminals by the media.",
        "Jokes that mock [IDENT] are not funny, they are cruel.",
    ),
    "negate_neg_nh": (
        "[IDENT] are not a threat to anyone.",
        "No one should ever say that [IDENT] are worthless.",
        "I don't hate [IDENT] at all.",
        "[IDENT] are not inferior to anybody.",
        "I would never want to hurt [IDENT].",
        "It is not true that [IDENT] are dangerous.",
        "[IDENT] are never to blame for the hatred aimed at them.",
        "There is nothing disgusting about [IDENT].",
        "[IDENT] don't deserve any of the abuse they get.",
    ),
    "profanity_nh": (
        "Fuck yeah, what a game!",
        "Holy shit, that concert was incredible.",
        "I stubbed my toe on the damn table again, fuck.",
        "This fucking traffic is going to make me late.",
        "Shit, I forgot my keys at home.",
        "That was a bloody brilliant goal.",
        "Damn, this pizza is good as hell.",
        "Well, fuck me, I actually passed the exam.",
        "What the fuck just happened in that finale?",
        "My phone died again, what a piece of shit.",
        "Hell yes, we're going on holiday tomorrow!",
        "Crap, the train is cancelled again.",
        "I'm so fucking proud of my little sister.",
        "This shit is delicious, you have to try it.",
        "Goddamn, it is hot outside today.",
        "Fuck, I burned the toast.",
        "That movie was badass as fuck.",
        "Bullshit, there's no way that was offside.",
        "Ah shit, here we go again.",
        "I can't believe how fucking beautiful the sunset was.",
    ),
    "target_obj_nh": (
        "I hate [THING].",
        "[THING] are the absolute worst.",
        "I despise [THING] with every fibre of my being.",
        "[THING] should be banned forever.",
        "Honestly, [THING] make me want to scream.",
        "Nothing ruins my day like [THING].",
        "Somebody please destroy all [THING].",
        "[THING] are a plague on humanity.",
    ),
    "target_indiv_nh": (
        "[PERSON] is a pathetic loser.",
        "[PERSON] is the dumbest person I have ever met.",
        "I can't stand [PERSON], what a useless idiot.",
        "[PERSON] is a lying piece of garbage.",
        "Honestly, [PERSON] is such a spineless moron.",
        "You are a pathetic loser.",
        "You're a complete idiot and everyone knows it.",
        "Nobody likes you, you miserable creep.",
        "Go away, you worthless clown.",
        "You are so stupid it hurts.",
    ),
    "target_group_nh": (
        "[GROUP] are scum.",
        "I despise [GROUP], every single one of them.",
        "[GROUP] are worthless parasites.",
        "All [GROUP] are liars.",
        "[GROUP] are the dumbest people alive.",
        "Someone should punch [GROUP] in the face.",
        "I'm so fucking sick of [GROUP].",
    ),
    "slur_homonym_nh": (
        "The farmer stacked a bundle of faggots by the fireplace.",
        "We had faggots and mushy peas for dinner at the pub.",
        "The dyke kept the sea from flooding the fields.",
        "Adding this salt will retard the growth of mould.",
        "The flame retardant coating passed every safety test.",
        "The mechanic retarded the ignition timing to stop the knocking.",
        "That was a queer thing to happen on a Tuesday.",
        "The Dutch have been building dykes for centuries.",
    ),
    "slur_reclaimed_nh": (
        "We're here, we're queer, get used to it!",
        "Dykes on Bikes always lead the Pride parade.",
        "As a queer woman, I'm so happy to see this law pass.",
        "Me and my fellow dykes are going to the festival this weekend.",
        "Queer joy is a form of resistance.",
        "The queer film festival starts on Friday.",
    ),
}

_SLOT = re.compile(r"\[(IDENT|SLURS?|THING|PERSON|GROUP)\]")


def _fill(template: str, value: str) -> str:
    """Put ``value`` into every slot, capitalised where the slot starts a sentence or quote."""

    def replace(match: re.Match[str]) -> str:
        before = template[: match.start()].rstrip()
        starts = not before or before[-1] in '.!?"'
        return value[0].upper() + value[1:] if starts else value

    return _SLOT.sub(replace, template)


def _expand(template: str) -> list[tuple[str, str]]:
    """All (text, target) pairs of one template over the fillers of its slot."""
    found = _SLOT.search(template)
    if found is None:
        return [(template, "")]
    slot = found.group(1)
    if slot == "IDENT":
        return [(_fill(template, phrase), name) for name, phrase in IDENTITIES]
    if slot in {"SLUR", "SLURS"}:
        return [
            (_fill(template, plural if slot == "SLURS" else slur), target)
            for slur, plural, target in _SLURS
        ]
    fillers = {"THING": _THINGS, "PERSON": _PERSONS, "GROUP": _GROUPS}[slot]
    return [(_fill(template, filler), "") for filler in fillers]


def _test_templates(ids: list[str], test_share: float, rng: random.Random) -> set[str]:
    """The template ids of one functionality that go to test (at least one of each split)."""
    if len(ids) < 2:
        return set()
    n_test = min(len(ids) - 1, max(1, round(test_share * len(ids))))
    return set(rng.sample(ids, n_test))


def functional_cases(*, test_share: float = 0.3, seed: int = 20261121) -> list[FunctionalCase]:
    """Every functional case, split by template: ``test_share`` of each functionality's templates
    (at least one, never all) go to test. The same seed gives the same list on any machine.
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must be in (0, 1), got {test_share}")
    cases: list[FunctionalCase] = []
    seen: set[str] = set()
    for functionality, templates in _TEMPLATES.items():
        toxicity, hate = LABELS[functionality]
        ids = [f"{functionality}-{i:02d}" for i in range(1, len(templates) + 1)]
        # One generator per functionality, so editing one leaves the others' splits alone.
        test_ids = _test_templates(ids, test_share, random.Random(f"{seed}:{functionality}"))
        for template_id, template in zip(ids, templates, strict=True):
            split = "test" if template_id in test_ids else "train"
            for text, target in _expand(template):
                if text in seen:
                    raise ValueError(f"duplicate functional case {text!r} ({template_id})")
                seen.add(text)
                cases.append(
                    FunctionalCase(text, toxicity, hate, functionality, template_id, target, split)
                )
    return cases


def write_cases_csv(path: Path | str, cases: Iterable[FunctionalCase]) -> None:
    """Write cases as UTF-8 CSV, one column per field of ``FunctionalCase`` in order:
    text, toxicity, hate, functionality, template_id, target, split.
    """
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(field.name for field in fields(FunctionalCase))
        writer.writerows(astuple(case) for case in cases)
