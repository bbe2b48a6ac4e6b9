"""Fuzzing the gRPC surface (hypothesis): 1,800 random, structured and mutated requests
against a real gateway with the shipped models (text, spam, NSFW, hash bank), about a third
of them valid posts with arbitrary Unicode text that reach every model. Every answer is OK
(with a verdict), INVALID_ARGUMENT (naming a field) or RESOURCE_EXHAUSTED, never INTERNAL,
UNKNOWN or a hang, and the server answers a clean request afterwards. Derandomized: CI runs
the same examples every time."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision import load_policy
from gateway.server import SERVICE_NAME, Gateway, load_classifiers
from modgate.pb import moderation_pb2 as pb
from modgate.settings import GatewaySettings, HashBankSettings, OcrEngine, OcrSettings
from tests.images import encode, photo

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
SMALL = photo("coffee").resize((64, 48))
IMAGES = [encode(SMALL), encode(SMALL, "PNG"), encode(SMALL, "GIF"), encode(SMALL, "WEBP")]


class ThreadedGateway:
    """A gateway on its own event loop in a thread, so hypothesis drives it synchronously."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        policy = load_policy(settings.policy_path)
        start = Gateway.start(settings, policy, load_classifiers(settings))
        self.gateway = asyncio.run_coroutine_threadsafe(start, self.loop).result(120)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.gateway.port}")
        self.moderate = self.channel.unary_unary(
            f"/{SERVICE_NAME}/Moderate", response_deserializer=pb.Verdict.FromString
        )
        self.batch = self.channel.unary_unary(
            f"/{SERVICE_NAME}/ModerateBatch",
            response_deserializer=pb.ModerateBatchResponse.FromString,
        )

    def stop(self) -> None:
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.gateway.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedGateway]:
    bank = tmp_path_factory.mktemp("fuzz") / "bank.jsonl"
    gateway_settings = GatewaySettings(
        port=0,
        metrics_port=0,
        deadline_ms=2000,
        shutdown_grace_s=1.0,
        ocr=OcrSettings(engine=OcrEngine.OFF),
        hashbank=HashBankSettings(path=bank),
    )
    served = ThreadedGateway(gateway_settings)
    yield served
    served.stop()


def call(method: grpc.UnaryUnaryMultiCallable, data: bytes) -> tuple[grpc.StatusCode, object]:
    try:
        return grpc.StatusCode.OK, method(data, timeout=30)
    except grpc.RpcError as exc:
        return exc.code(), exc.details()


def check(code: grpc.StatusCode, answer: object) -> None:
    assert code in ALLOWED, f"{code}: {answer}"
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        assert isinstance(answer, str)
        assert ": " in answer, f"INVALID_ARGUMENT must name the field: {answer!r}"


def mostly(valid: st.SearchStrategy[object], wild: st.SearchStrategy[object]) -> st.SearchStrategy:
    """Valid values most of the time (so posts reach the models), wild ones now and then."""
    return st.one_of(*[valid] * 15, wild)


images = st.lists(
    mostly(st.sampled_from(IMAGES), st.binary(min_size=1, max_size=256)).map(
        lambda b: pb.Image(data=b)
    ),
    max_size=3,
)
requests = st.builds(
    pb.ModerateRequest,
    post_id=mostly(st.from_regex(r"[A-Za-z0-9_.:-]{1,40}", fullmatch=True), st.text(max_size=80)),
    text=mostly(st.text(min_size=1, max_size=1200), st.text(max_size=5000)),
    author=st.builds(
        pb.Author,
        id=st.text(max_size=80),
        followers=mostly(st.integers(0, 10**7), st.integers(-(2**31), 2**31 - 1)),
        account_age_days=mostly(
            st.floats(0, 1e5), st.floats(allow_nan=True, allow_infinity=True, width=32)
        ),
    ),
    images=images,
    region=mostly(st.sampled_from(["", "DE", "EU", "US", "br"]), st.text(max_size=6)),
    language_hint=mostly(st.sampled_from(["", "en", "de-AT", "zh", "pt-BR"]), st.text(max_size=12)),
    client_metadata=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4),
)


@st.composite
def mutated(draw: st.DrawFn, messages: st.SearchStrategy[bytes]) -> bytes:
    """A valid message's bytes with a few flips, cuts and insertions."""
    data = bytearray(draw(messages))
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 6))):
        kind = rng.randrange(3)
        at = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del data[at:]
        else:
            data[at:at] = rng.randbytes(rng.randrange(1, 9))
    return bytes(data)


# Requests that pass validation, with wild text (any Unicode, up to the limit): these reach
# language id, normalization, the tokenizer and every model.
valid_requests = st.builds(
    pb.ModerateRequest,
    post_id=st.from_regex(r"[A-Za-z0-9_.:-]{1,40}", fullmatch=True),
    text=st.text(min_size=1, max_size=3000).filter(lambda t: bool(t.strip())),
    author=st.builds(pb.Author, id=st.text(max_size=40), followers=st.integers(0, 10**7)),
    images=st.lists(st.sampled_from(IMAGES).map(lambda b: pb.Image(data=b)), max_size=2),
    language_hint=st.sampled_from(["", "en", "de-AT", "zh", "pt-BR"]),
)
serialized = requests.map(lambda r: r.SerializeToString())
batches = st.lists(requests, max_size=70).map(
    lambda posts: pb.ModerateBatchRequest(posts=posts).SerializeToString()
)
FUZZ = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=4096),
        valid_requests.map(lambda r: r.SerializeToString()),
        serialized,
        mutated(serialized),
    )
)
def test_moderate_answers_every_request_with_a_verdict_or_a_client_error(
    served: ThreadedGateway, data: bytes
) -> None:
    code, answer = call(served.moderate, data)
    check(code, answer)
    if code is grpc.StatusCode.OK:
        assert isinstance(answer, pb.Verdict)
        assert answer.action in (pb.ALLOW, pb.REMOVE, pb.DEFER)


@settings(FUZZ, max_examples=300)
@given(data=st.one_of(st.binary(max_size=4096), batches, mutated(batches)))
def test_moderate_batch_answers_every_request_with_verdicts_or_a_client_error(
    served: ThreadedGateway, data: bytes
) -> None:
    code, answer = call(served.batch, data)
    check(code, answer)


def test_a_clean_request_is_served_after_the_fuzzing(served: ThreadedGateway) -> None:
    request = pb.ModerateRequest(post_id="after", text="Are we still on for lunch tomorrow?")
    code, verdict = call(served.moderate, request.SerializeToString())
    assert code is grpc.StatusCode.OK
    assert isinstance(verdict, pb.Verdict)
    assert verdict.action == pb.ALLOW
    assert not verdict.degraded
