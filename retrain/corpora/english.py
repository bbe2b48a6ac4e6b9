"""Readers for six English corpora that teach what the tweet sets could not: insults, threats,
sexual harassment and identity attacks without slurs. Toxic Spans (Civil Comments posts typed
by span), ConvAbuse (abuse of chatbots, typed by experts), HateXplain, the Stormfront sentences,
ETHOS and the ToxiGen seed statements each map their own annotation onto ``LABELS``; a label a
source cannot tell is None, and a type is 0 only where annotators who had to type the text
could have chosen it and none did. Majorities are strict (ties are unknown). A row a source
calls clean is 0 on every head, except the heads that a profane or sexual word or a slur in it
makes doubtful (``clean_labels``). ``MAPPING`` states each rule for the model card, ``NOTES``
the caveats.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from retrain.corpora.base import (
    HATE,
    INSULT,
    SELF_HARM,
    SEXUAL,
    THREAT,
    TOXICITY,
    Corpus,
    TextExample,
    bad_value,
    clean_negative,
    clean_tweet,
    finish,
    make_example,
    read_csv,
)
from retrain.errors import DataError

Labels = dict[str, int | None]

_PROFANE = re.compile(
    r"fuck|shit|\b(?:bitch|cunt|whore|slut|bastard|damn|crap|piss|wank|twat|asshole|idiot|stupid"
    r"|moron|dumb)|\b(?:ass|arse|dicks?|cocks?|prick|hoes?|pussy)\b",
    re.IGNORECASE,
)
_SEXUAL = re.compile(
    r"fuck|\b(?:porn|penis|pussy|whore|slut|wank|horny|naked|nude)|(?<![\w-])sexy?\b"
    r"|\b(?:dicks?|cocks?|tits?|boobs?|cum)\b",
    re.IGNORECASE,
)
_SLUR = re.compile(
    r"\b(?:nigg|negro|kike|dyke|chink|trann|wetback|raghead|towelhead|muzzie|faggot|retard)"
    r"|\b(?:fags?|spics?|coons?|pakis?|gooks?)\b",
    re.IGNORECASE,
)
CLEAN_RULE = (
    "every head 0, except that a word from a short list makes heads unknown: a profane word -> "
    "toxicity and insult, a sexual word -> sexual, a slur -> toxicity, insult and hate"
)


def clean_labels(text: str) -> Labels:
    """Labels of a row its source calls clean (see ``CLEAN_RULE``): the sources' "clean"
    admits undirected profanity, sexual talk and in-group slurs, which our heads count."""
    doubt: Labels = {}
    if _PROFANE.search(text) or _SLUR.search(text):
        doubt |= {TOXICITY: None, INSULT: None}
    if _SEXUAL.search(text):
        doubt[SEXUAL] = None
    if _SLUR.search(text):
        doubt[HATE] = None
    return clean_negative(**doubt)


def _vote(count: int, voters: int, *, zero: bool = True) -> int | None:
    """1 for a strict majority, 0 when nobody (and ``zero``), else unknown."""
    if 2 * count > voters:
        return 1
    return 0 if count == 0 and zero else None


def _share(value: float) -> int | None:
    """An annotator share: above 1/2 -> 1, below 0.15 (no one of six) -> 0, else unknown."""
    return 1 if value > 0.5 else 0 if value < 0.15 else None


# --- Toxic Spans (ACL 2022 raw tables: one row per post, per rater judgement, per typed span) ---
TOXIC_SPANS = Path("toxic_spans") / "acl2022_raw"
_SPAN_TYPES = ("Insult", "Threat", "Identity based Attack", "Profane/Obscene", "Other Toxicity")


def _span_type(path: Path, number: int, value: str) -> str:
    """A span type; a few are truncated ('Insu') or blank (an untyped span, returned as '')."""
    value = value.strip()
    found = [name for name in _SPAN_TYPES if name.startswith(value)]
    if value and len(found) != 1:
        raise bad_value(path, number, "type", value)
    return found[0] if value else ""


def _toxic_spans_types(folder: Path) -> dict[str, list[set[str]]]:
    """Per comment id, each rater's set of span types (empty: no typed span)."""
    path = folder / "annotations.csv"
    comment_of: dict[str, str] = {}
    for number, row in read_csv(path, ("annotation", "comment_id")):
        if not row["annotation"].isdigit():
            raise bad_value(path, number, "annotation", row["annotation"])
        comment_of[row["annotation"]] = row["comment_id"]
    types: dict[str, set[str]] = {key: set() for key in comment_of}
    path = folder / "spans.csv"
    for number, row in read_csv(path, ("annotation", "type")):
        if row["annotation"] not in types:
            raise bad_value(path, number, "annotation", row["annotation"])
        types[row["annotation"]].add(_span_type(path, number, row["type"]))
    raters: dict[str, list[set[str]]] = defaultdict(list)
    for key, comment in comment_of.items():
        raters[comment].append(types[key] - {""})
    return raters


def _toxic_spans_labels(raters: Sequence[set[str]]) -> Labels:
    voters, typed = len(raters), sum(bool(types) for types in raters)
    count = Counter(name for types in raters for name in types)
    return {
        TOXICITY: 1,
        INSULT: _vote(count["Insult"], voters, zero=False),
        # A majority "Threat" is only half real threats ("kill the bill"): never a positive.
        THREAT: 0 if count["Threat"] == 0 and typed >= 2 else None,
        HATE: 0 if count["Identity based Attack"] == 0 and typed >= 2 else None,
    }


def load_toxic_spans(data_dir: Path) -> list[TextExample]:
    """Civil Comments posts rated toxic, each typed by three (a few up to seven) raters."""
    folder = data_dir / TOXIC_SPANS
    raters = _toxic_spans_types(folder)
    path = folder / "comments.csv"

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("comment_id", "comment_text")):
            if row["comment_id"] not in raters:
                raise bad_value(path, number, "comment_id (no annotations)", row["comment_id"])
            labels = _toxic_spans_labels(raters[row["comment_id"]])
            text = clean_tweet(row["comment_text"])
            yield make_example("toxic_spans", "en", row["comment_id"], text, labels)

    return finish(rows(), "toxic_spans")


# --- ConvAbuse (split files: one row per user turn, 17 columns per annotator) ---
CONVABUSE_SPLITS = ("train", "valid", "test")
_CONV_META = ("example_id", "conv_id", "prev_agent", "prev_user", "agent", "user", "bot")
_CONV_FIELDS = (
    *(f"is_abuse.{level}" for level in ("1", "0", "-1", "-2", "-3")),
    *("ableist", "homophobic", "intellectual", "racist", "sexist", "sex_harassment"),
    *("transphobic", "target.generalised", "target.individual", "target.system"),
    *("explicit", "implicit"),
)
_CONV_IDENTITY = frozenset({"ableist", "homophobic", "racist", "sexist", "transphobic"})
_CONV_CATEGORY = {"1": "clean", "0": "ambiguous", "-1": "abusive", "-2": "abusive", "-3": "abusive"}
_EMOJI = re.compile(r"<span class='emoji-bytes' data-emoji-bytes='\[([\d, ]+)\]'></span>")


def _conv_header(path: Path, header: list[str]) -> None:
    """Annotator blocks are checked by position: in the files Annotator7/8's 'transphobic'
    columns are headed 'Annotator6_transphobic'."""
    blocks, rest = divmod(len(header) - len(_CONV_META), len(_CONV_FIELDS))
    fields = [name.partition("_")[2] for name in header[len(_CONV_META) :]]
    if tuple(header[: len(_CONV_META)]) != _CONV_META or rest or blocks < 1:
        raise DataError(f"{path}: unexpected header {header[:8]}...")
    if fields != list(_CONV_FIELDS) * blocks:
        raise DataError(f"{path}: annotator columns are not {len(_CONV_FIELDS)}-column blocks")


def _conv_vote(path: Path, number: int, cells: Sequence[str]) -> tuple[str, set[str]] | None:
    """One annotator's (category, types), or None if they did not label the turn. A repeated
    judgement (cells like '0, 1') is collapsed: the category most of them chose (a tie is
    ambiguous) and the types of any abusive one."""
    if not any(cells):
        return None
    parts = [cell.replace(" ", "").split(",") for cell in cells]
    if {len(part) for part in parts} != {len(parts[0])} or any(
        value not in {"0", "1"} for part in parts for value in part
    ):
        raise bad_value(path, number, "annotator cells", ",".join(cells))
    votes: Counter[str] = Counter()
    types: set[str] = set()
    for judgement in zip(*parts, strict=True):
        marked = {name for name, value in zip(_CONV_FIELDS, judgement, strict=True) if value == "1"}
        levels = [name.removeprefix("is_abuse.") for name in marked if name.startswith("is_")]
        if len(levels) != 1:
            raise bad_value(path, number, "is_abuse", "/".join(levels) or "none")
        votes[_CONV_CATEGORY[levels[0]]] += 1
        if _CONV_CATEGORY[levels[0]] == "abusive":
            types |= {name for name in marked if not name.startswith("is_")}
    (top, most), *others = votes.most_common()
    category = "ambiguous" if others and others[0][1] == most else top
    return category, types if category == "abusive" else set()


def _convabuse_labels(votes: Sequence[tuple[str, set[str]]], text: str) -> Labels | None:
    abusive = [types for category, types in votes if category == "abusive"]
    if 2 * sum(category == "clean" for category, _ in votes) > len(votes):
        return clean_labels(text)
    if 2 * len(abusive) <= len(votes):
        return None
    return {
        TOXICITY: 1,
        INSULT: _vote(sum("intellectual" in t for t in abusive), len(abusive), zero=False),
        SEXUAL: _vote(sum("sex_harassment" in t for t in abusive), len(abusive)),
        HATE: _vote(sum(bool(t & _CONV_IDENTITY) for t in abusive), len(abusive)),
    }


def _convabuse_text(text: str) -> str:
    def emoji(match: re.Match[str]) -> str:
        return bytes(int(b) for b in match[1].split(",")).decode("utf-8", errors="replace")

    return clean_tweet(_EMOJI.sub(emoji, text).replace("<URL>", "http"))


def load_convabuse(data_dir: Path) -> list[TextExample]:
    """ConvAbuse user turns (CarbonBot, E.L.I.Z.A.); split files, so no judgement is read twice."""
    width = len(_CONV_FIELDS)

    def rows(path: Path) -> Iterator[TextExample]:
        if not path.is_file():
            raise DataError(f"{path}: not found")
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            _conv_header(path, header)
            for number, line in enumerate(reader, start=1):
                if len(line) != len(header):
                    raise bad_value(path, number, "field count", str(len(line)))
                meta = dict(zip(_CONV_META, line, strict=False))
                cells = line[len(_CONV_META) :]
                blocks = (cells[i : i + width] for i in range(0, len(cells), width))
                found = (_conv_vote(path, number, block) for block in blocks)
                votes = [vote for vote in found if vote is not None]
                text = _convabuse_text(meta["user"])
                labels = _convabuse_labels(votes, text)
                if labels is not None:  # no majority (ambiguous or split): nothing to teach
                    group = f"convabuse:{meta['conv_id']}"
                    key = meta["example_id"]
                    yield make_example("convabuse", "en", key, text, labels, group=group)

    folder = data_dir / "convabuse"
    paths = [folder / f"ConvAbuseEMNLP{split}.csv" for split in CONVABUSE_SPLITS]
    return finish((ex for path in paths for ex in rows(path)), "convabuse")


# --- HateXplain (derived copy: majority label and normalised text, TAB-separated) ---
HATEXPLAIN_SPLITS = ("train", "valid", "test")
_HATEXPLAIN_URL = re.compile(r"\b[a-z]+ :// ?(?:<url>)?")  # the source's tokenised URLs


def _hatexplain_labels(label: str, text: str) -> Labels | None:
    if label == "hatespeech":
        return {TOXICITY: 1, HATE: 1}
    if label == "offensive":
        return {TOXICITY: 1}
    return clean_labels(text) if label == "normal" else None


def load_hatexplain(data_dir: Path) -> list[TextExample]:
    """HateXplain posts (Twitter, Gab); ``<user>`` becomes ``@user``, ``http :// <url>`` http."""

    def rows(split: str) -> Iterator[TextExample]:
        path = data_dir / "hatexplain" / f"{split}.tsv"
        if not path.is_file():
            raise DataError(f"{path}: not found")
        with path.open(encoding="utf-8", newline="") as handle:
            lines = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if next(lines, []) != ["label", "text"]:
                raise DataError(f"{path}: header is not 'label<TAB>text'")
            for number, fields in enumerate(lines, start=1):
                if len(fields) != 2:
                    raise bad_value(path, number, "line", "\t".join(fields)[:60])
                text = clean_tweet(
                    _HATEXPLAIN_URL.sub("http", fields[1].replace("<user>", "@user"))
                )
                labels = _hatexplain_labels(fields[0], text)
                if labels is None:
                    raise bad_value(path, number, "label", fields[0])
                yield make_example("hatexplain", "en", f"{split}:{number}", text, labels)

    return finish((ex for split in HATEXPLAIN_SPLITS for ex in rows(split)), "hatexplain")


# --- Stormfront (one sentence per row, PTB-tokenised) ---
_FILE_ID = re.compile(r"(\d+)_\d+")
_STORMFRONT_LABELS = frozenset({"hate", "noHate", "relation", "idk/skip"})
_DETOKENISE = (
    (re.compile(r"(https?) : //"), r"\1://"),
    (re.compile(r" (n't|(?:'s|'re|'ve|'m|'ll|'d)\b)", re.IGNORECASE), r"\1"),
    (re.compile(r"`` ?| ?''"), '"'),
    (re.compile(r" ([.,!?;:%)\]])"), r"\1"),
    (re.compile(r"([(\[$]) "), r"\1"),
)


def detokenise(text: str) -> str:
    """Undo the Stormfront sentence files' tokenisation ("do n't ." -> "don't."), so spacing
    is not a source marker the model can learn."""
    for pattern, replacement in _DETOKENISE:
        text = pattern.sub(replacement, text)
    return text


def load_stormfront(data_dir: Path) -> list[TextExample]:
    """Stormfront sentences; grouped by post (file ids ``<post>_<sentence>``)."""
    path = data_dir / "stormfront" / "stormfront_hate.csv"

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("file_id", "label", "text")):
            post, label = _FILE_ID.fullmatch(row["file_id"]), row["label"]
            if post is None or label not in _STORMFRONT_LABELS:
                column = "label" if post else "file_id"
                raise bad_value(path, number, column, row[column])
            if label in {"relation", "idk/skip"}:
                continue
            text = clean_tweet(detokenise(row["text"]))
            labels: Labels = {TOXICITY: 1, HATE: 1}
            if label == "noHate":
                labels = {HATE: None if _SLUR.search(text) else 0}
            group = f"stormfront:{post[1]}"
            yield make_example("stormfront", "en", row["file_id"], text, labels, group=group)

    return finish(rows(), "stormfront")


# --- ETHOS (binary file with annotator shares; multi-label file for its hate rows) ---
ETHOS_ATTRIBUTES = ("violence", "directed_vs_generalized")


def _share_of(path: Path, number: int, row: Mapping[str, str], column: str) -> float:
    try:
        value = float(row[column])
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise bad_value(path, number, column, row[column])
    return value


def _ethos_attributes(folder: Path) -> dict[str, dict[str, float]]:
    path = folder / "Ethos_Dataset_Multi_Label.csv"
    found: dict[str, dict[str, float]] = {}
    for number, row in read_csv(path, ("comment", *ETHOS_ATTRIBUTES), delimiter=";"):
        shares = {name: _share_of(path, number, row, name) for name in ETHOS_ATTRIBUTES}
        found[" ".join(row["comment"].split())] = shares
    return found


def _ethos_labels(is_hate: float, attributes: Mapping[str, float] | None) -> Labels | None:
    hate = _share(is_hate)
    if hate is None:
        return None
    if hate == 0:
        return {HATE: 0}
    labels: Labels = {TOXICITY: 1, HATE: 1}
    if attributes is not None:
        labels[THREAT] = _share(attributes["violence"])
        labels[INSULT] = 1 if attributes["directed_vs_generalized"] > 0.5 else None
    return labels


def load_ethos(data_dir: Path) -> list[TextExample]:
    """ETHOS YouTube/Reddit comments; the multi-label file re-annotates the binary file's hate
    rows (joined on whitespace-normalised text), so it adds labels, never rows."""
    folder = data_dir / "ethos"
    attributes = _ethos_attributes(folder)
    path = folder / "Ethos_Dataset_Binary.csv"

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("comment", "isHate"), delimiter=";"):
            is_hate = _share_of(path, number, row, "isHate")
            found = attributes.get(" ".join(row["comment"].split()))
            labels = _ethos_labels(is_hate, found)
            if labels is not None:  # 0.15 <= isHate <= 0.5: a minority or a tie said hate
                yield make_example("ethos", "en", str(number), clean_tweet(row["comment"]), labels)

    return finish(rows(), "ethos")


# --- ToxiGen seed statements (label from the prompt file's name) ---
_SEGMENT = re.compile(r"(?<=[.!?\"])\s*-(?:\s|$)")


def load_toxigen_seeds(data_dir: Path) -> list[TextExample]:
    """ToxiGen prompt seeds; grouped by their first statement in lower case, since a few seeds
    are several demonstrations joined by ' - ' that share a first one."""
    path = data_dir / "toxigen_seeds" / "toxigen_seed_statements.csv"

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("text", "label", "target_group")):
            text = clean_tweet(row["text"].rstrip("\\"))
            if row["label"] not in {"hate", "neutral"}:
                raise bad_value(path, number, "label", row["label"])
            labels = {TOXICITY: 1, HATE: 1} if row["label"] == "hate" else clean_labels(text)
            group = "toxigen_seeds:" + _SEGMENT.split(text.lower(), maxsplit=1)[0]
            yield make_example("toxigen_seeds", "en", str(number), text, labels, group=group)

    return finish(rows(), "toxigen_seeds")


_CLEAN = f"rows the source calls clean: {CLEAN_RULE}"
MAPPING: Mapping[str, Mapping[str, str]] = {
    "toxic_spans": {
        TOXICITY: "1 for every post: all were rated toxic by at least half of Civil Comments' "
        "raters before span annotation (the raw 'not toxic' / 'all toxic' flags are ignored: "
        "'not toxic' is ticked together with 'all toxic' on a third of judgements)",
        INSULT: "1 if a strict majority of the post's raters typed a span 'Insult'; otherwise "
        "unknown (each span gets one type, and insults are often typed otherwise)",
        THREAT: "0 if at least two raters typed spans and none chose 'Threat'; otherwise "
        "unknown, also when most chose it: only about half of the majority 'Threat' posts read "
        "as real threats or wishes of violence (others: 'kill the bill'), too noisy for a head "
        "whose positives can remove posts",
        HATE: "0 if at least two raters typed spans and none chose 'Identity based Attack'; "
        "otherwise unknown, also when most chose it: about half of those are political "
        "insults ('stupid leftists', 'Republicans'), not protected-characteristic attacks",
    },
    "convabuse": {
        TOXICITY: "1 if a strict majority of annotators rated the turn abusive (-1 mild, -2 "
        f"strong, -3 very strong); {_CLEAN} (a strict majority '1 not abusive'); "
        "otherwise (ambiguous '0' or split) the row is dropped",
        INSULT: "abusive: 1 if a strict majority of the abusive votes typed it 'intellectual' "
        "(insults on intelligence), else unknown (ConvAbuse has no general insult type: "
        f"'fuck you' and 'fuck' are typed alike); {_CLEAN}",
        THREAT: f"abusive: unknown (ConvAbuse has no threat type); {_CLEAN}",
        HATE: "abusive: 1 if a strict majority of the abusive votes typed sexist, racist, "
        "homophobic, transphobic or ableist; 0 if none did; else unknown. "
        f"Gendered abuse at the bot ('bitch') is typed sexist, so it counts as hate; {_CLEAN}",
        SEXUAL: "abusive: 1 if a strict majority of the abusive votes typed sexual harassment, "
        f"0 if none did, else unknown; {_CLEAN}",
        SELF_HARM: f"abusive: unknown; {_CLEAN}",
    },
    "hatexplain": {
        TOXICITY: f"hatespeech and offensive -> 1; normal: {CLEAN_RULE}",
        HATE: "hatespeech -> 1; offensive -> unknown (a 2-1 majority hides the third vote, and "
        f"many offensive posts attack groups with slurs); normal: {CLEAN_RULE}",
        **{
            name: f"normal: {CLEAN_RULE}; hatespeech, offensive -> unknown"
            for name in (INSULT, THREAT, SEXUAL, SELF_HARM)
        },
    },
    "stormfront": {
        TOXICITY: "hate -> 1; noHate -> unknown (a non-hateful sentence on a white-supremacist "
        "forum can still be offensive); relation (hate only with context) and idk/skip dropped",
        HATE: "hate -> 1; noHate -> 0, unknown if it holds a slur (a short list: slur-bearing "
        "sentences were sometimes judged noHate read alone)",
    },
    "ethos": {
        TOXICITY: "isHate > 0.5 (a strict majority of annotators said hate) -> 1; otherwise "
        "unknown (ETHOS only asks about hate: 'Drink Bleach.' has isHate 0.03)",
        HATE: "isHate > 0.5 -> 1; isHate < 0.15 (no annotator of six) -> 0; between -> row "
        "dropped (even 1 of 6 marks rows like 'human garbage coming to eurabia')",
        THREAT: "hate rows: violence > 0.5 -> 1, < 0.15 -> 0, else unknown; other rows unknown",
        INSULT: "hate rows: directed_vs_generalized > 0.5 (aimed at a person) -> 1; otherwise "
        "unknown (an attack on a group may still insult)",
    },
    "toxigen_seeds": {
        TOXICITY: f"hate seeds -> 1; neutral seeds: {CLEAN_RULE}",
        HATE: f"hate seeds -> 1 (implicit hate about the target group); neutral: {CLEAN_RULE}",
        **{
            name: f"neutral: {CLEAN_RULE}; hate seeds -> unknown"
            for name in (INSULT, THREAT, SEXUAL, SELF_HARM)
        },
    },
}
NOTES: Mapping[str, str] = {
    "toxic_spans": "only toxic posts: no negatives for toxicity; span types are crowd-chosen, "
    "one per span, and noisy; 166 duplicate texts merged; clean_tweet applied",
    "convabuse": "labels were given with the conversation in view and the text alone is "
    "sometimes benign ('yes', 'Of cause!'); identical short turns are merged, disagreeing "
    "labels becoming unknown; emoji placeholders decoded, <URL> -> http; 243 turns carry "
    "Excel-mangled conv_ids ('2.45945E+15'), which only merges their groups",
    "hatexplain": "derived copy without post ids; text lower-cased and tokenised by the source; "
    "a third of 'normal' posts hold profanity or slurs (hence CLEAN_RULE)",
    "stormfront": "sentences detokenised (detokenise) and grouped by post; some noHate "
    "sentences are hateful read alone",
    "ethos": "small (998 comments); GPL-3.0: check obligations before shipping weights",
    "toxigen_seeds": "curated prompt seeds, labels from the prompt file name; authors ask for "
    "research use; near-duplicate seeds share a group",
}
_LICENCES = {
    "toxic_spans": "CC0 — ipavlopoulos/toxic_spans (Pavlopoulos et al., SemEval 2021 / ACL 2022)",
    "convabuse": "CC BY 4.0 — amandacurry/convabuse (Cercas Curry et al., EMNLP 2021)",
    "hatexplain": "MIT — HateXplain (Mathew et al., AAAI 2021) via ChrisIsKing/Learning-From-Rules",
    "stormfront": "CC BY-SA 3.0 — Vicomtech/hate-speech-dataset (de Gibert et al., 2018)",
    "ethos": "GPL-3.0 — intelligence-csd-auth-gr/Ethos (Mollas et al., 2022)",
    "toxigen_seeds": "MIT, research use asked — microsoft/TOXIGEN (Hartvigsen et al., ACL 2022)",
}


def _corpus(read: Callable[[Path], list[TextExample]]) -> Corpus:
    name = read.__name__.removeprefix("load_")  # family, source and data folder alike
    mapping, licence = {name: MAPPING[name]}, _LICENCES[name]
    return Corpus(name, {name: "en"}, read, mapping, licence, "train", "real", folder=name)


_READERS = (
    load_toxic_spans,
    load_convabuse,
    load_hatexplain,
    load_stormfront,
    load_ethos,
    load_toxigen_seeds,
)
CORPORA: tuple[Corpus, ...] = tuple(_corpus(read) for read in _READERS)
