"""Fan-out under one deadline: late and failing classifiers are reported missing, never awaited
past the deadline, and never take the others down with them."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence

from gateway.fanout import fan_out
from models.errors import ModelTimeoutError, ModelUnavailableError
from models.interface import Prediction
from modgate.types import Action, Image, Post, Reason, Scores
from tests.fakes import FunctionClassifier, constant

POST = Post(post_id="p1", text="hello there")


def _deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_all_answers_are_merged_with_model_versions() -> None:
    spam = FunctionClassifier("spam", ("spam",), constant("spam", 0.2))
    tox = FunctionClassifier("text", ("toxicity", "hate"), lambda p: {"toxicity": 0.3, "hate": 0.1})
    [result] = await fan_out({"spam": spam, "text": tox}, [POST], deadline=_deadline(1.0))
    assert result.scores == {"spam": 0.2, "toxicity": 0.3, "hate": 0.1}
    assert {m.name for m in result.answered} == {"spam", "text"}
    assert not result.missing_models


async def test_classifier_past_deadline_is_cancelled_and_reported_missing() -> None:
    slow = FunctionClassifier("hate", ("hate",), constant("hate", 0.9), delay_s=30.0)
    fast = FunctionClassifier("spam", ("spam",), constant("spam", 0.1))
    [result] = await fan_out({"hate": slow, "spam": fast}, [POST], deadline=_deadline(0.05))
    await asyncio.sleep(0)  # let the cancellation reach the slow classifier
    assert result.missing_models == {"hate": "timeout"}
    assert result.missing_categories == {"hate"}
    assert result.scores == {"spam": 0.1}
    assert slow.cancelled == 1


async def test_failing_classifier_does_not_cancel_the_others() -> None:
    broken = FunctionClassifier(
        "text",
        ("toxicity",),
        constant("toxicity", 0.5),
        error=ModelUnavailableError("text", "1", "down"),
    )
    crashing = FunctionClassifier(
        "img", ("nsfw",), constant("nsfw", 0.5), error=RuntimeError("boom")
    )
    ok = FunctionClassifier("spam", ("spam",), constant("spam", 0.3), delay_s=0.01)
    clfs = {"text": broken, "img": crashing, "spam": ok}
    [result] = await fan_out(clfs, [POST], deadline=_deadline(1.0))
    assert result.scores == {"spam": 0.3}
    assert result.missing_models == {
        "text": "error: ModelUnavailableError",
        "img": "error: RuntimeError",
    }


async def test_not_applicable_classifier_is_not_missing() -> None:
    text_only = FunctionClassifier("spam", ("spam",), constant("spam", 0.3))
    image_post = Post(post_id="p2", images=(Image(b"\x89PNG..."),))
    [result] = await fan_out({"spam": text_only}, [image_post], deadline=_deadline(1.0))
    assert text_only.calls == 0
    assert not result.missing_models
    assert not result.scores


async def test_out_of_range_or_nan_scores_count_as_missing() -> None:
    for bad in (1.5, -0.1, float("nan")):
        clf = FunctionClassifier("spam", ("spam",), constant("spam", bad))
        [result] = await fan_out({"spam": clf}, [POST], deadline=_deadline(1.0))
        assert result.missing_models == {"spam": "error: invalid score"}, bad


async def test_batch_goes_to_each_classifier_once_in_order() -> None:
    posts = [Post(post_id=f"p{i}", text=f"text {i}") for i in range(5)]
    clf = FunctionClassifier("spam", ("spam",), lambda p: {"spam": int(p.post_id[1:]) / 10})
    results = await fan_out({"spam": clf}, posts, deadline=_deadline(1.0))
    assert clf.calls == 1
    assert clf.seen == [p.post_id for p in posts]
    assert [r.scores["spam"] for r in results] == [0.0, 0.1, 0.2, 0.3, 0.4]


async def test_expired_deadline_reports_everything_missing() -> None:
    clf = FunctionClassifier("spam", ("spam",), constant("spam", 0.3), delay_s=0.01)
    [result] = await fan_out({"spam": clf}, [POST], deadline=_deadline(0.0))
    assert result.missing_models == {"spam": "timeout"}


async def test_scores_for_one_category_merge_by_maximum_with_notes_and_evidence() -> None:
    """The post text's toxicity and the toxicity of the text inside its images: the higher
    one counts; a detailed classifier's notes and evidence reach the result."""

    class ImageText:
        name, version, categories = "ocr", "1", ()

        def applies_to(self, post: Post) -> bool:
            return True

        async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
            raise AssertionError("predict_detailed is preferred")

        async def predict_detailed(
            self, posts: Sequence[Post], *, timeout_s: float
        ) -> list[Prediction]:
            cite = Reason("toxicity.image_text", Action.ALLOW, "toxicity")
            return [Prediction({"toxicity": 0.8}, (cite,), {"ocr": "done"}) for _ in posts]

        async def aclose(self) -> None:
            return None

    text = FunctionClassifier("text", ("toxicity",), constant("toxicity", 0.3))
    [result] = await fan_out({"text": text, "ocr": ImageText()}, [POST], deadline=_deadline(1.0))
    assert result.scores == {"toxicity": 0.8}
    assert result.notes == {"ocr": "done"}
    assert [r.code for r in result.evidence] == ["toxicity.image_text"]
    assert not result.missing_categories


class _TimesOutWhenCancelled(FunctionClassifier):
    """Ends with its own timeout error when cancelled, as a backend racing the deadline can."""

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        try:
            await asyncio.sleep(30.0)
        except asyncio.CancelledError:
            raise ModelTimeoutError(self.name, "1", "no answer in time") from None
        return []


async def test_a_late_classifiers_own_error_is_retrieved_not_left_unhandled() -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    racer = _TimesOutWhenCancelled("text", ("toxicity",), constant("toxicity", 0.5))
    [result] = await fan_out({"text": racer}, [POST], deadline=_deadline(0.02))
    assert result.missing_models == {"text": "timeout"}
    await asyncio.sleep(0.01)
    gc.collect()  # an unretrieved task exception is reported when the task is collected
    await asyncio.sleep(0)
    assert unhandled == []


async def test_cancelled_fan_out_cancels_its_classifiers_and_retrieves_their_errors() -> None:
    """A caller that gives up (the RPC is cancelled at the client's deadline) cancels the
    fan-out; its classifier tasks are cancelled too, and a late error is not left unhandled."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    slow = FunctionClassifier("hate", ("hate",), constant("hate", 0.9), delay_s=30.0)
    racer = _TimesOutWhenCancelled("text", ("toxicity",), constant("toxicity", 0.5))
    call = asyncio.ensure_future(
        fan_out({"hate": slow, "text": racer}, [POST], deadline=_deadline(30.0))
    )
    await asyncio.sleep(0.01)
    call.cancel()
    await asyncio.gather(call, return_exceptions=True)
    await asyncio.sleep(0.01)
    gc.collect()
    await asyncio.sleep(0)
    assert call.cancelled()
    assert slow.cancelled == 1
    assert unhandled == []
