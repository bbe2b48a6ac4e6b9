"""One contract, two backends: every shipped classifier (text, spam, nsfw) served in-process
by ONNX Runtime and by a real Triton server (the pytriton binary, python backend running the
same ONNX files through the same onnxruntime) passes the same tests, and both give the same
scores for the same posts (≤ 1e-5: the same runtime computes them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from models.errors import ModelTimeoutError
from models.factory import build_classifier
from models.image_decode import decode_image
from models.interface import Classifier
from modgate.embedded_triton import LocalTriton
from modgate.settings import ARTIFACTS_DIR, ClassifierUrl, ImageSettings, OnnxSettings
from modgate.types import Author, Image, Post
from tests.images import encode, photo, with_caption

pytestmark = [pytest.mark.integration, pytest.mark.triton]

BACKENDS = ("onnx", "triton")
KINDS = ("text", "spam", "nsfw")
TOLERANCE = 1e-5
# The shipped text model is int8 with per-token activation scales (export.text_quant), so a
# post scores the same alone or among any batch-mates, on either backend — what Triton's
# dynamic batcher needs. (The dynamically quantized model before it moved by up to 0.114.)
BATCH_TOLERANCE = {"text": 1e-3, "spam": TOLERANCE, "nsfw": TOLERANCE}

TEXTS = (
    "what a lovely day at the beach with the kids",
    "you are a worthless idiot and everyone hates you",
    "I will find where you live and hurt you",
    "BUY CHEAP PILLS NOW!!! http://cheap-pills.example/?ref=123 limited offer",
    "follow me follow me follow me free followers at bit.ly/xyz",
    "Das ist doch völliger Unsinn, du Trottel",
    "¿Alguien sabe a qué hora abre la biblioteca mañana?",
    "Ты просто жалкий неудачник",
    "这家餐厅的菜真好吃，推荐大家去",
    "मुझे यह फिल्म बहुत पसंद आई",
    "لا أصدق أنك قلت هذا، أنت غبي",
    "y0u ar3 such a l0s3r lmao 🤡🤡🤡",
    "ok",
    # longer than the model's token budget: head + tail truncation on both backends
    "I really enjoyed the concert last night. " * 60 + "but the guy behind me was a moron",
)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def text_posts() -> list[Post]:
    authors = (
        Author(),
        Author(id="a1", account_age_days=0.5, followers=2, prior_violations=3, posts_last_hour=40),
        Author(id="a2", account_age_days=2000, followers=15000, prior_violations=0),
    )
    return [
        Post(post_id=f"t{i}", text=text, author=authors[i % len(authors)])
        for i, text in enumerate(TEXTS)
    ]


def image_posts() -> list[Post]:
    limits = ImageSettings()
    images = [encode(photo(name)) for name in PHOTOS]
    images.append(encode(with_caption(photo("astronaut"), "hello there"), "PNG"))
    decoded = [Image(data=b"", decoded=decode_image(data, limits=limits)) for data in images]
    posts = [Post(post_id=f"i{i}", images=(image,)) for i, image in enumerate(decoded)]
    posts.append(Post(post_id="both", images=(decoded[0], decoded[2])))
    return posts


def posts_for(kind: str) -> list[Post]:
    return image_posts() if kind == "nsfw" else text_posts()


def url_for(kind: str, backend: str, server: LocalTriton | None) -> str:
    if backend == "onnx":
        return f"onnx://{ARTIFACTS_DIR / kind}"
    assert server is not None
    return server.url(kind)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=BACKENDS)
async def classifier(request: pytest.FixtureRequest, kind: str) -> AsyncIterator[Classifier]:
    backend = str(request.param)
    server = request.getfixturevalue("triton_server") if backend == "triton" else None
    url = ClassifierUrl.parse(kind, url_for(kind, backend, server))
    clf = build_classifier(kind, url, OnnxSettings())
    yield clf
    await clf.aclose()


async def test_scores_are_probabilities_for_the_declared_categories(
    classifier: Classifier,
) -> None:
    posts = posts_for(classifier.name)
    scores = await classifier.predict(posts, timeout_s=30)
    assert len(scores) == len(posts)
    for row in scores:
        assert set(row) == set(classifier.categories)
        assert all(0.0 <= value <= 1.0 for value in row.values())


async def test_a_batch_scores_each_post_as_it_would_alone(classifier: Classifier) -> None:
    posts = posts_for(classifier.name)
    together = await classifier.predict(posts, timeout_s=30)
    tolerance = BATCH_TOLERANCE[classifier.name]
    for post, expected in zip(posts, together, strict=True):
        [alone] = await classifier.predict([post], timeout_s=30)
        for category, value in expected.items():
            assert alone[category] == pytest.approx(value, abs=tolerance)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["text", "spam"])
async def test_a_batch_larger_than_the_model_batch_limit_keeps_its_order(
    name: str, backend: str, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue("triton_server") if backend == "triton" else None
    clf = build_classifier(
        name, ClassifierUrl.parse(name, url_for(name, backend, server)), OnnxSettings()
    )
    try:
        posts = text_posts() * 6  # 84 posts: more than the configured max_batch_size of 64
        scores = await clf.predict(posts, timeout_s=60)
        first = await clf.predict(text_posts(), timeout_s=30)
    finally:
        await clf.aclose()
    for i, row in enumerate(scores):
        for category, value in row.items():
            expected = first[i % len(TEXTS)][category]
            assert value == pytest.approx(expected, abs=BATCH_TOLERANCE[name])


async def test_an_empty_batch_and_no_budget(classifier: Classifier) -> None:
    assert await classifier.predict([], timeout_s=1.0) == []
    with pytest.raises(ModelTimeoutError):
        await classifier.predict(posts_for(classifier.name)[:1], timeout_s=0.0)


async def test_the_model_reports_ready(classifier: Classifier) -> None:
    probe = getattr(classifier, "probe", None)
    assert probe is not None
    assert await probe() is None


@pytest.mark.parametrize("name", KINDS)
async def test_in_process_and_triton_give_the_same_scores(
    name: str, triton_server: LocalTriton
) -> None:
    local = build_classifier(
        name, ClassifierUrl.parse(name, url_for(name, "onnx", None)), OnnxSettings()
    )
    remote_url = ClassifierUrl.parse(name, triton_server.url(name))
    remote = build_classifier(name, remote_url, OnnxSettings())
    try:
        posts = posts_for(name)
        assert local.version == remote.version
        expected = await local.predict(posts, timeout_s=30)
        actual = await remote.predict(posts, timeout_s=30)
        worst = max(abs(a[c] - e[c]) for a, e in zip(actual, expected, strict=True) for c in e)
        assert worst <= TOLERANCE, f"{name}: max abs difference {worst:.3g}"
        assert np.isfinite(worst)
    finally:
        await local.aclose()
        await remote.aclose()
