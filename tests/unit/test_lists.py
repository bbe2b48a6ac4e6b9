"""Trust-and-safety lists: entries validated with the field named, domains match their
subdomains, keywords and patterns match the normalized text (homoglyphs, leetspeak), patterns
run on RE2 in linear time whatever the input, and edits are picked up while a bad new file
keeps the previous lists."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from decision import decide, load_policy
from models.lists import Lists, ListsError, entry_from, read_entries, write_entries
from modgate.settings import DEFAULT_POLICY
from modgate.types import Action, Reason

POLICY = load_policy(DEFAULT_POLICY)


def entry(**fields: str) -> dict[str, str]:
    return {"category": "spam", "reason": "test", **fields}


def make(path: Path, *entries: dict[str, str]) -> Lists:
    write_entries(path, [entry_from(e) for e in entries])
    return Lists(path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (entry(kind="url", value="x"), "kind"),
        (entry(kind="domain", value=""), "value"),
        (entry(kind="regex", value="(a+"), "RE2"),
        (entry(kind="regex", value=r"(\w+)\1"), "RE2"),  # backreferences: not linear, refused
        (entry(kind="domain", value="x.com", list="maybe"), "list"),
        (entry(kind="domain", value="x.com", action="allow"), "action"),
        (entry(kind="domain", value="x.com", reason="Bad Code"), "reason"),
        (entry(kind="domain", value="x.com", category="Spam!"), "category"),
        ({**entry(kind="domain", value="x.com"), "colour": "red"}, "unknown fields"),
    ],
)
def test_bad_entries_are_refused_naming_the_field(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ListsError, match=message):
        entry_from(fields)


def test_domains_match_their_subdomains_and_nothing_else(tmp_path: Path) -> None:
    lists = make(tmp_path / "l.yaml", entry(kind="domain", value="bit.ly"))
    assert [h.matched for h in lists.match("go to https://www.bit.ly/abc now")] == ["www.bit.ly"]
    assert lists.match("see https://notbit.ly/x") == []
    assert lists.match("bit.ly without a scheme is not a link here") == []


def test_keywords_and_patterns_match_the_normalized_text(tmp_path: Path) -> None:
    lists = make(
        tmp_path / "l.yaml",
        entry(kind="keyword", value="free iphone", reason="giveaway", action="remove"),
        entry(kind="regex", value=r"whats?app\s*\+?\d{6,}", reason="contact"),
    )
    for text in ("FREE 1PH0NE today", "ｆｒｅｅ iphone today", "f r e e iphone!!"):
        assert [h.entry.code for h in lists.match(text)] == ["spam.list.giveaway"], text
    assert lists.match("a freeiphone case") == []  # whole words only
    assert [h.entry.code for h in lists.match("text me on WhatsApp +447700900123")] == [
        "spam.list.contact"
    ]


def test_a_pattern_built_to_backtrack_stays_linear_on_hostile_input(tmp_path: Path) -> None:
    lists = make(
        tmp_path / "l.yaml",
        entry(kind="regex", value="(a+)+$"),
        entry(kind="regex", value="(x+x+)+y"),
    )
    hostile = "a" * 5000 + "!" + "x" * 10_000
    started = time.perf_counter()
    lists.match(hostile)
    assert time.perf_counter() - started < 0.1  # Python's re would take years here


def test_edits_are_picked_up_and_a_bad_file_keeps_the_previous_lists(tmp_path: Path) -> None:
    path = tmp_path / "l.yaml"
    lists = make(path, entry(kind="domain", value="bit.ly"))
    assert not lists.reload_if_changed()
    write_entries(path, [entry_from(entry(kind="domain", value="spam.example", reason="farm"))])
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert lists.reload_if_changed()
    assert [e.value for e in lists.entries] == ["spam.example"]
    path.write_text("entries: [{kind: regex, value: '(a+', category: spam, reason: x}]\n")
    assert not lists.reload_if_changed()  # logged, previous lists kept
    assert [e.value for e in lists.entries] == ["spam.example"]
    with pytest.raises(ListsError, match="RE2"):
        read_entries(path)
    path.unlink()
    assert lists.reload_if_changed()
    assert lists.entries == ()


def test_block_entries_are_evidence_and_allow_entries_veto_removal() -> None:
    block = Reason("spam.list.farm", Action.DEFER, "spam", detail="block list")
    removes = Reason("spam.list.scam", Action.REMOVE, "spam", detail="block list")
    allow = Reason("spam.list.gov", Action.ALLOW, "spam", detail="allow list")
    confident = {"spam": 0.999}
    assert decide(confident, {}, POLICY).action is Action.DEFER  # no evidence: defers
    assert decide(confident, {}, POLICY, listed=[block]).action is Action.REMOVE
    assert decide({"spam": 0.01}, {}, POLICY, listed=[removes]).action is Action.REMOVE
    vetoed = decide(confident, {"near_duplicate_authors": 9}, POLICY, listed=[allow, removes])
    assert vetoed.action is Action.DEFER
    assert "spam.remove_vetoed" in vetoed.reason_codes
    assert "spam.list.gov" in vetoed.reason_codes
    hate = decide({"hate": 0.99}, {"language": "en"}, POLICY, listed=[allow])
    assert hate.action is Action.REMOVE  # a veto speaks for its own category only


def test_link_features_count_links_and_distinct_hosts() -> None:
    from gateway.features import TextAnalyzer, assemble_features
    from modgate.types import Post

    post = Post(
        post_id="p",
        text="see https://bit.ly/a and http://bit.ly/b, also www.Example.com/x or example.com",
    )
    features = assemble_features(post, TextAnalyzer().analyze(post))
    assert (features["links"], features["link_domains"]) == (3, 2)
