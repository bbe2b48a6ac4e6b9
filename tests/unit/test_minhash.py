"""Near-duplicate signatures: variants of one spam message (another link path, a name, leet,
an added word) are near-duplicates, unrelated posts are not, short posts get no signature,
and LSH bands find every near-duplicate candidate."""

from __future__ import annotations

from models.minhash import MIN_WORDS, NEAR_SIMILARITY, bands, signature, similarity, words

SPAM = "Check out my channel!! subscribe for free giveaways http://bit.ly/abc123 thanks"
VARIANTS = [
    "Check out my channel!!! subscribe for FREE giveaways http://bit.ly/zz99 thx",
    "Ch3ck out my channel!! subscribe for free giveaways https://bit.ly/q1 thanks so much",
    "check out   my channel subscribe for free giveaways http://bit.ly/777 thanks",
]
UNRELATED = [
    "The council meeting moved to Thursday, bring your questions about the new bus routes",
    "I can't believe the referee missed that penalty in the second half, awful game",
    "Check out my new video about the council meeting on Thursday http://youtube.com/x",
]


def test_variants_of_one_message_are_near_duplicates() -> None:
    base = signature(SPAM)
    assert base is not None
    for text in VARIANTS:
        other = signature(text)
        assert other is not None
        assert similarity(base, other) >= NEAR_SIMILARITY, text
        assert set(bands(base)) & set(bands(other)), text  # the index finds it


def test_unrelated_posts_are_not() -> None:
    base = signature(SPAM)
    assert base is not None
    for text in UNRELATED:
        other = signature(text)
        assert other is not None
        assert similarity(base, other) < NEAR_SIMILARITY, text


def test_links_become_their_host_and_numbers_zero() -> None:
    assert words("Call 0900 123 now https://bit.ly/x?y=1 ok") == [
        "call",
        "0",
        "0",
        "now",
        "bit",
        "ly",
        "ok",
    ]


def test_short_posts_get_no_signature_and_signatures_are_stable() -> None:
    assert signature("good morning everyone") is None
    assert len(words("one two three four five six")) == MIN_WORDS
    assert signature(SPAM) == signature(SPAM)  # the same in every process (fixed seed)
