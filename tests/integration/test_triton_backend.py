"""The Triton backend against a real Triton server (the pytriton binary): boot-time readiness
and version checks, clear errors, per-call budgets, and an outage the backend rides out and
recovers from by itself."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.errors import ArtifactError, ModelInputError, ModelTimeoutError, ModelUnavailableError
from models.factory import build_classifier
from models.text import TextClassifier
from models.triton_backend import TritonSession
from modgate.embedded import free_port
from modgate.embedded_triton import LocalTriton
from modgate.settings import ARTIFACTS_DIR, ClassifierUrl, OnnxSettings, TritonSettings
from modgate.types import Post

pytestmark = [pytest.mark.integration, pytest.mark.triton]

FAST = TritonSettings(
    startup_wait_s=0.5, probe_interval_s=0.2, retry_after_s=0.2, reconnect_max_backoff_ms=200
)
POSTS = [Post(post_id="a", text="have a nice day"), Post(post_id="b", text="you absolute idiot")]


def text_over(url: str, settings: TritonSettings = FAST) -> TextClassifier:
    clf = build_classifier(
        "text", ClassifierUrl.parse("text", url), OnnxSettings(), triton=settings
    )
    assert isinstance(clf, TextClassifier)
    return clf


def test_boot_fails_clearly_when_no_server_answers() -> None:
    url = f"triton://127.0.0.1:{free_port()}/text"
    with pytest.raises(ModelUnavailableError, match=r"not ready after 0 s"):
        text_over(url)


def test_boot_fails_clearly_for_a_model_the_server_does_not_have(
    triton_server: LocalTriton,
) -> None:
    url = triton_server.url("toxicity-v9", artifact=str(ARTIFACTS_DIR / "text"))
    with pytest.raises(ModelUnavailableError, match=r"'toxicity-v9' not ready"):
        text_over(url)


def test_a_pinned_version_must_be_served(triton_server: LocalTriton) -> None:
    with pytest.raises(ModelUnavailableError, match=r"'text' version 7 not ready"):
        text_over(triton_server.url("text", version="7"))
    clf = text_over(triton_server.url("text", version="1"))
    assert isinstance(clf.model.session, TritonSession)
    assert clf.model.session.served_version == "1"


def test_a_local_artifact_of_another_version_is_refused(
    triton_server: LocalTriton, tmp_path: Path
) -> None:
    artifact = tmp_path / "text"
    artifact.mkdir()
    shutil.copy(ARTIFACTS_DIR / "text" / "tokenizer.json", artifact)
    metadata = json.loads((ARTIFACTS_DIR / "text" / "metadata.json").read_text())
    served = metadata["version"]
    metadata["version"] = "text-retrained-tomorrow"
    (artifact / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=f"as '{served}'.*'text-retrained-tomorrow'"):
        text_over(triton_server.url("text", artifact=str(artifact)))


async def test_tensors_the_model_cannot_take_are_refused_before_sending(
    triton_server: LocalTriton,
) -> None:
    clf = text_over(triton_server.url("text"))
    session = clf.model.session
    ids = np.ones((2, 16), dtype=np.int64)
    try:
        with pytest.raises(ModelInputError, match="attention_mask is int32"):
            await session.run(
                {"input_ids": ids, "attention_mask": ids.astype(np.int32)}, timeout_s=5
            )
        with pytest.raises(ModelInputError, match="inputs"):
            await session.run({"input_ids": ids}, timeout_s=5)
        with pytest.raises(ModelInputError, match="shape"):
            await session.run({"input_ids": ids[0], "attention_mask": ids[0]}, timeout_s=5)
        with pytest.raises(ModelInputError, match="batch size"):
            await session.run({"input_ids": ids, "attention_mask": ids[:1]}, timeout_s=5)
        # a refusal is not an outage: the next call goes through
        assert len(await clf.predict(POSTS, timeout_s=5)) == 2
    finally:
        await clf.aclose()


async def test_a_call_past_its_budget_times_out(triton_server: LocalTriton) -> None:
    clf = text_over(triton_server.url("text"))
    try:
        with pytest.raises(ModelTimeoutError):
            await clf.predict(POSTS * 32, timeout_s=0.0005)
        assert len(await clf.predict(POSTS, timeout_s=5)) == 2
    finally:
        await clf.aclose()


async def test_the_synchronous_path_scores_like_the_in_process_model(
    triton_server: LocalTriton,
) -> None:
    remote = text_over(triton_server.url("text"))
    local = build_classifier(
        "text", ClassifierUrl.parse("text", f"onnx://{ARTIFACTS_DIR / 'text'}"), OnnxSettings()
    )
    assert isinstance(local, TextClassifier)
    texts = [p.text for p in POSTS] * 3
    try:
        # what OCR workers use: TextModel.score from a thread, over the sync client
        remote_scores = await asyncio.to_thread(remote.model.score, texts)
        np.testing.assert_allclose(remote_scores, local.model.score(texts), rtol=0, atol=1e-5)
    finally:
        await remote.aclose()
        await local.aclose()


async def wait_for_probe(clf: TextClassifier, *, ready: bool, within_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within_s
    while loop.time() < give_up:
        if (await clf.probe() is None) == ready:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"probe did not report ready={ready} within {within_s} s")


async def test_an_outage_fails_fast_and_heals_when_the_server_returns(
    own_triton_server: LocalTriton,
) -> None:
    clf = text_over(own_triton_server.url("text"))
    try:
        before = await clf.predict(POSTS, timeout_s=5)

        own_triton_server.stop()
        with pytest.raises(ModelUnavailableError, match=r"Triton at 127\.0\.0\.1"):
            await clf.predict(POSTS, timeout_s=5)
        # while down, calls fail at once instead of spending their budget
        with pytest.raises(ModelUnavailableError, match="retrying shortly"):
            await clf.predict(POSTS, timeout_s=5)
        reason = await clf.probe()
        assert reason is not None
        assert "unreachable" in reason

        own_triton_server.start(timeout_s=120.0)
        await wait_for_probe(clf, ready=True)
        after = await clf.predict(POSTS, timeout_s=5)
        assert after == before
    finally:
        await clf.aclose()
