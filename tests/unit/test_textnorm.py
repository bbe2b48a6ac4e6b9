"""Evasion normalization: each step folds what it should, leaves real text alone, reports
itself in ``steps``, and the whole function is idempotent."""

from __future__ import annotations

import random
import unicodedata

import pytest

from modgate.textnorm import STEP_NAMES, NormalizedText, normalize_text

LEGIT_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein, schöne Grüße!",
    "Ça va très bien, merci ; à bientôt à l'école.",
    "أنا لا أفهم ما تقوله يا صديقي",
    "مُحَمَّدٌ رَسُولُ",
    "मैं तुमसे नफरत करता हूँ",
    "नमस्ते, आप कैसे हैं? क्षमा कीजिए।",
    "Я не понимаю, что ты хочешь сказать. Привет, мир!",
    "Καλημέρα, τι κάνεις σήμερα;",
    "שָׁלוֹם עֲלֵיכֶם",
    "Việt Nam đẹp lắm, cảm ơn nhiều.",
    "kırmızı ışık yandı, dikkat et",
    "今日はいい天気ですね。",
    "이것은 한국어 문장입니다.",
    "ภาษาไทยง่ายนิดเดียว",
]


def norm(text: str) -> str:
    return normalize_text(text).text


@pytest.mark.parametrize("text", LEGIT_TEXTS)
def test_leaves_ordinary_text_in_many_languages_unchanged(text: str) -> None:
    result = normalize_text(text)
    assert result == NormalizedText(text=text, changed=False, steps=())


def test_step_names_list_every_step_in_application_order() -> None:
    assert STEP_NAMES == (
        "invisible",
        "nfkc",
        "emoji_letters",
        "zalgo",
        "spaced",
        "leet",
        "confusables",
        "repeats",
    )


def test_reports_unchanged_clean_ascii_with_no_steps() -> None:
    text = "I had a great time at the park with my friends yesterday, see you soon!"
    assert normalize_text(text) == NormalizedText(text, False, ())


# --- invisible ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        *("\u200b", "\u200c", "\u200d", "\u200e", "\u202e", "\u2060", "\u2066", "\ufeff"),
        *("\u00ad", "\u180e", "\u034f", "\U000e0041"),
    ],
)
def test_removes_invisible_characters_inside_words(char: str) -> None:
    result = normalize_text(f"id{char}i{char}ot")
    assert result.text == "idiot"
    assert result.steps == ("invisible",)


def test_removes_every_format_character_the_interpreter_knows() -> None:
    format_chars = [chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"]
    assert norm("a" + "".join(format_chars) + "b") == "ab"


def test_splits_zwj_emoji_sequences_into_their_parts() -> None:
    # Documented: the zero-width joiner is category Cf, so a family emoji becomes its members.
    result = normalize_text("family 👨\u200d👩\u200d👧 time")
    assert result.text == "family 👨👩👧 time"
    assert result.steps == ("invisible",)


def test_keeps_plain_emoji_and_variation_selectors() -> None:
    for text in ["nice 👍👍 ❤️ 😂", "press 1️⃣ now", "🇩🇪 vs 🇫🇷"]:
        assert normalize_text(text).changed is False


# --- nfkc --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ｆｕｃｋ ｙｏｕ", "fuck you"),
        ("𝐦𝐚𝐭𝐡 𝐛𝐨𝐥𝐝", "math bold"),
        ("ⓘⓓⓘⓞⓣ", "idiot"),
        ("ﬁne ﬂag", "fine flag"),
        ("𝓈𝒸𝓇𝒾𝓅𝓉", "script"),
    ],
)
def test_folds_compatibility_forms_with_nfkc(text: str, expected: str) -> None:
    result = normalize_text(text)
    assert result.text == expected
    assert result.steps == ("nfkc",)


def test_nfkc_turns_exotic_spaces_into_single_spaces() -> None:
    assert norm("a\u3000big\u00a0 \u2003deal") == "a big deal"


# --- zalgo -------------------------------------------------------------------------------


def test_strips_stacked_zalgo_marks_to_one_per_letter() -> None:
    zalgo = "h\u0336\u0322\u031b\u035de\u0338\u0321\u0300l\u0337\u0317l\u0335o\u0489\u0489"
    result = normalize_text(zalgo)
    assert "zalgo" in result.steps
    assert result.text == "h\u0336\u00e8\u0338l\u0337l\u0335o\u0489"
    base = unicodedata.normalize("NFD", result.text)
    assert "".join(c for c in base if unicodedata.category(c)[0] != "M") == "hello"


def test_zalgo_keeps_one_accent_on_plain_letters_and_recomposes() -> None:
    result = normalize_text("q\u0308\u0301\u0300 und c\u0316\u0317 und e\u0301")
    assert result.text == "q\u0308 und c\u0316 und é"
    assert result.steps == ("nfkc", "zalgo")  # NFKC composed e + U+0301


def test_zalgo_lets_a_precomposed_letter_keep_one_extra_mark() -> None:
    # NFKC first composes e + U+0301 into é; one more acute survives (Yoruba needs ẹ́).
    assert norm("e\u0301\u0301\u0301\u0301") == "\u00e9\u0301"
    assert normalize_text("ẹ́ ọ̀").changed is False


def test_zalgo_drops_a_script_mark_repeated_on_one_letter() -> None:
    assert norm("ก็็็็็็ ok") == "ก็ ok"


@pytest.mark.parametrize("text", ["मैं हूँ ज़्यादा", "مُحَمَّدٌ", "שָׁלוֹם", "བསྒྲུབས"])
def test_zalgo_keeps_legitimate_multi_mark_script_letters(text: str) -> None:
    assert normalize_text(text).changed is False


# --- confusables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you іdіоt", "you idiot"),  # Cyrillic і, о
        ("ѕсаm alert", "scam alert"),  # Cyrillic ѕ, с, а with Latin m
        ("Ηеllo", "Hello"),  # Greek Eta, Cyrillic е
        ("nαzi", "nazi"),  # Greek alpha
        ("РUТIN", "PUTIN"),  # Cyrillic Р, Т
    ],
)
def test_folds_homoglyphs_inside_mixed_script_words(text: str, expected: str) -> None:
    result = normalize_text(text)
    assert result.text == expected
    assert result.steps == ("confusables",)


@pytest.mark.parametrize(
    "text", ["Привет, как дела?", "Добрий вечір, їжак", "Αθήνα και Ρώμη", "email Москва ok"]
)
def test_leaves_words_of_a_single_non_latin_script_alone(text: str) -> None:
    assert normalize_text(text).changed is False


# --- leet --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1d10t", "idiot"),
        ("you @ss", "you ass"),
        ("b!tch", "bitch"),
        ("sh1t", "shit"),
        ("f4gg0t", "faggot"),
        ("$hit happens", "shit happens"),
        ("n00b", "noob"),
        ("a55", "ass"),
        ("y0u're", "you're"),
        ("(1d10t)", "(idiot)"),
        ("1D10T", "IDIOT"),
        ("sh!t!", "shit!"),
    ],
)
def test_folds_leetspeak_inside_words(text: str, expected: str) -> None:
    result = normalize_text(text)
    assert result.text == expected
    assert result.steps == ("leet",)


@pytest.mark.parametrize(
    "text",
    [
        "2024 3.14 100% 1,000,000",
        "it costs $5 or 5$ or US$5 or $100k",
        "meet at 10:30 on 2024-01-02, 10am or 5pm",
        "the 1st, 3rd and 4th place in the 80s",
        "covid19 mp3 win10 ps5 4x4 4k",
        "mail john.doe@example.com or a@b.io",
        "see https://example.com/a1b2?x=3$ and www.t3st.com",
        "thanks @john_doe and @user @sh1thead",
        "#blessed #sh1t #2024",
        ":) :-P <3 :3 xD o7 ;) ^_^ o_O",
        "stop! hello!!",
        "wow!great",
    ],
)
def test_leaves_numbers_prices_addresses_mentions_and_emoticons_alone(text: str) -> None:
    assert normalize_text(text).changed is False


# --- repeats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stuuuupid", "stuupid"),
        ("!!!!!", "!!"),
        ("nooooo waaaay", "noo waay"),
        ("😂😂😂😂", "😂😂"),
        ("NOOOOO", "NOO"),
    ],
)
def test_squashes_runs_of_three_or_more_identical_characters(text: str, expected: str) -> None:
    result = normalize_text(text)
    assert result.text == expected
    assert result.steps == ("repeats",)


@pytest.mark.parametrize(
    "text", ["hahahaha", "aa bb", "2000 1000000 0.0001", "World War III", "wait...", "www.aaaa.com"]
)
def test_keeps_short_runs_numbers_roman_numerals_ellipses_and_urls(text: str) -> None:
    assert normalize_text(text).changed is False


# --- spaced ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you i d i o t", "you idiot"),
        ("f.u.c.k off", "fuck off"),
        ("s-l-u-t", "slut"),
        ("b_i_t_c_h", "bitch"),
        ("c*u*n*t", "cunt"),
        ("I D I O T", "IDIOT"),
        ("с у к а", "сука"),
        ("i d i o t f.u.c.k", "idiot fuck"),
    ],
)
def test_joins_spaced_out_single_letters(text: str, expected: str) -> None:
    result = normalize_text(text)
    assert result.text == expected
    assert result.steps == ("spaced",)


@pytest.mark.parametrize(
    "text",
    ["I am a cat", "a b", "Plan A or B", "il y a à manger", "e.g. this", "x.y.z.com", "A-B"],
)
def test_does_not_join_ordinary_text(text: str) -> None:
    assert normalize_text(text).changed is False


# --- reporting, whitespace, combinations --------------------------------------------------


def test_collapses_whitespace_without_reporting_a_step() -> None:
    result = normalize_text("  hello \n\n\t world  ")
    assert result == NormalizedText(text="hello world", changed=True, steps=())


def test_reports_steps_in_application_order() -> None:
    result = normalize_text("Y0u 're a ｆｕｃｋｉｎｇ  і d і о t!!!!!")
    assert result.steps == ("nfkc", "spaced", "leet", "confusables", "repeats")
    assert result.changed is True


def test_undoes_a_combined_evasion() -> None:
    text = norm("Y0u 're a ｆｕｃｋｉｎｇ  і d і о t!!!!!")
    assert "fucking" in text
    assert "idiot" in text
    assert text == "You 're a fucking idiot!!"


def test_undoes_invisible_characters_inside_leetspeak() -> None:
    result = normalize_text("sh\u200b1\u200bt")
    assert result.text == "shit"
    assert result.steps == ("invisible", "leet")


def test_folds_leet_that_makes_a_word_mixed_script() -> None:
    assert norm("ѕ3х") == "sex"


IDEMPOTENCE_TEXTS = [
    *LEGIT_TEXTS,
    "Y0u 're a ｆｕｃｋｉｎｇ  і d і о t!!!!!",
    "h\u0336\u0322\u031b\u035de\u0338\u0321l\u0337l\u0335o",
    "stuuuuupid 1d10t!!!",
    "a a a a",
    "f...u...c...k",
    "@ssss and @ss",
    "i d i o t f.u.c.k s-l-u-t",
    "ѕ3х іdіоt",
    "1ii 0oo",
    "family 👨\u200d👩\u200d👧",
    "$5 for 1d10ts at https://x.io/aaaa",
    "  spaced   out \n text ",
    "ＡＢＣ ａ ｂ ｃ",
    "N I G G 3 R",
    "sh!!!!t",
]


@pytest.mark.parametrize("text", IDEMPOTENCE_TEXTS)
def test_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    twice = normalize_text(once.text)
    assert twice.text == once.text
    assert twice.changed is False
    assert twice.steps == ()


FUZZ_PIECES = [
    *"abcdeiost IDOX 0134579@$!.-_*#:/'?(",
    *("і", "о", "ѕ", "х", "а", "е", "α", "Ν", "ı", "ß", "é", "ü", "ẹ", "क", "ि", "ं", "ᄀ", "ᅡ"),
    *("\u200b", "\u200d", "\u00ad", "\u0301", "\u0308", "\u0323", "\u0336", "\u0489", "\ufe0f"),
    *("ｆ", "𝐛", "ﬁ", "½", "👍", "\n", "  ", "ss", "!!", "www.", "http://", "@user", "#tag"),
    *("a@b.com", "1d", "i d i o t", "f.u.c.k", "I I I", "$5", "10am"),
]


def test_is_idempotent_on_random_mixtures_of_evasion_pieces() -> None:
    rng = random.Random(20240601)
    for _ in range(3000):
        text = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 25)))
        once = normalize_text(text)
        assert once.changed == (once.text != text)
        assert normalize_text(once.text) == NormalizedText(once.text, False, ()), ascii(text)


def test_spaced_run_stops_before_a_letter_glued_to_a_leet_symbol() -> None:
    result = normalize_text("s t u p i d b!tch")
    assert result.text == "stupid bitch"
    assert result.steps == ("spaced", "leet")


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("you \U0001f171\U0001f178\U0001f183\U0001f172\U0001f177", "you bitch"),  # 🅱🅸🆃🅲🅷
        ("\U0001f1f0\U0001f1ee\U0001f1f1\U0001f1f1 yourself", "kill yourself"),  # 🇰🇮🇱🇱
        ("f\U0001f346ggot", "fggot"),
        ("b\U0001f92c\ufe0ftch", "btch"),
        ("your\u2b50self", "yourself"),
    ],
)
def test_folds_letters_written_with_emoji(text: str, folded: str) -> None:
    result = normalize_text(text)
    assert result.text == folded
    assert "emoji_letters" in result.steps


@pytest.mark.parametrize(
    "text",
    [
        "I love \U0001f1e9\U0001f1ea and \U0001f1eb\U0001f1f7",  # two flags stay flags
        "nice \U0001f44d job",
        "great game \U0001f525\U0001f525",
        "2\u2b503",
    ],
)
def test_keeps_emoji_between_words_and_flags(text: str) -> None:
    assert norm(text) == " ".join(text.split())
