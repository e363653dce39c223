"""The classify runner on a real MiniLM classifier artifact: calibrated probabilities, "unsure", micro-batching.

The artifact is built once per session without a training run: the frozen encoder's embeddings of the
shipped sample and a logistic regression as the head (what a classifier run starts from), saved by the
same code a run uses.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inference.protocol import InferenceRequest, Task
from inference.registry import EMBEDDING_MODEL_ID
from inference.runners import Result, RunContext
from inference.runners import classify as runner
from tests.training.classifier_fixtures import sample_rows


def _request(artifact: Path | None, texts: list[str], unsure_below: float = 0.0) -> InferenceRequest:
    return InferenceRequest(task=Task.CLASSIFY, model=EMBEDDING_MODEL_ID, artifact=str(artifact) if artifact else None,
                            query={"texts": texts, "unsure_below": unsure_below})


async def _result(request: InferenceRequest) -> Result:
    events = [event async for event in runner.classify(request, RunContext("r1"))]
    assert len(events) == 1 and isinstance(events[0], Result)
    return events[0]


async def test_one_text_gets_its_label_and_a_probability_for_every_label_summing_to_one(classifier_artifact):
    result = await _result(_request(classifier_artifact, ["My parcel never arrived and the tracking is stuck."]))
    assert result.finish_reason == "stop" and result.error is None
    payload = result.payload
    assert (payload["label"], payload["top_label"], payload["unsure"]) == ("shipping", "shipping", False)
    assert set(payload["probabilities"]) == {"account", "billing", "shipping"}
    assert sum(payload["probabilities"].values()) == pytest.approx(1.0, abs=1e-9)
    assert list(payload["probabilities"])[0] == "shipping"  # most likely first
    assert payload["confidence"] == payload["probabilities"]["shipping"]
    assert result.usage["completion_tokens"] == 0 and result.usage["finish_reason"] == "stop"


async def test_below_the_versions_threshold_the_label_is_unsure_and_the_top_label_stays(classifier_artifact):
    text = "I was charged twice for one order."
    sure = (await _result(_request(classifier_artifact, [text]))).payload
    unsure = (await _result(_request(classifier_artifact, [text], unsure_below=0.999))).payload
    assert sure["label"] == "billing" and sure["confidence"] < 0.999
    assert (unsure["label"], unsure["top_label"], unsure["unsure"]) == ("unsure", "billing", True)
    assert unsure["probabilities"] == sure["probabilities"]


async def test_requests_that_arrive_together_are_scored_in_one_forward_pass_with_the_same_answers(
    classifier_artifact, settings
):
    settings.CLASSIFY_BATCH_WINDOW_S = 0.05  # generous on a busy test machine; the default is a few ms
    texts = [text for text, _ in sample_rows(labels=("account", "billing", "shipping"), per_label=6)]
    alone = [(await _result(_request(classifier_artifact, [text]))).payload for text in texts[:3]]
    runner._batchers.clear()
    together = await asyncio.gather(*(_result(_request(classifier_artifact, [text])) for text in texts))
    batcher = runner._batchers[str(classifier_artifact)]
    assert batcher.passes == 1
    # Padding to a longer text changes nothing but the order of sums: fp32 agrees to ~1e-6; bf16 (where the CPU
    # runs it natively) keeps 8 bits of mantissa, ~0.4 % of a value, so a probability may move by a few 1e-3.
    from inference.training.classifier.model import resolve_precision

    tolerance = 1e-2 if resolve_precision(runner.serving_precision(), device="cpu") == "bf16" else 1e-4
    for single, joint in zip(alone, together[:3], strict=False):
        assert joint.payload["label"] == single["label"]
        for label, p in single["probabilities"].items():
            assert joint.payload["probabilities"][label] == pytest.approx(p, abs=tolerance)
    assert all(sum(r.payload["probabilities"].values()) == pytest.approx(1.0) for r in together)


async def test_the_loaded_classifier_is_reused_from_the_cache(classifier_artifact):
    await _result(_request(classifier_artifact, ["Where is my order?"]))
    hits = runner.load.cache_info().hits
    await _result(_request(classifier_artifact, ["Where is my order?"]))
    assert runner.load.cache_info().hits == hits + 1


async def test_a_missing_artifact_ends_with_an_error_in_words_not_a_crash(tmp_path):
    result = await _result(_request(tmp_path / "gone", ["hello"]))
    assert result.finish_reason == "error" and "classifier.json" in result.error
    no_artifact = await _result(_request(None, ["hello"]))
    assert no_artifact.error == "This version has no trained classifier; train one and make a version from the run."


TEST_TEXTS = [text for text, _ in sample_rows(labels=("account", "billing", "shipping"), per_label=20)]


# How far a probability may move from fp32's: int8 moves the confidence of this sharp head much more
# (0.16 at most, measured) than bf16 does, which is why bf16 is the default and int8 only a choice.
@pytest.mark.parametrize(("precision", "moves_at_most"), [("bf16", 0.05), ("int8", 0.25)])
def test_the_fast_precisions_give_probabilities_summing_to_one_and_fp32s_label_on_every_test_text(
    classifier_artifact, precision, moves_at_most
):
    labels, exact = runner.score(str(classifier_artifact), TEST_TEXTS, precision="fp32")
    fast_labels, fast = runner.score(str(classifier_artifact), TEST_TEXTS, precision=precision)
    assert fast_labels == labels
    for text, reference, row in zip(TEST_TEXTS, exact, fast, strict=True):
        assert sum(row) == pytest.approx(1.0, abs=1e-9)
        assert row.index(max(row)) == reference.index(max(reference)), text
    moved = max(abs(a - b) for ref, row in zip(exact, fast, strict=True) for a, b in zip(ref, row, strict=True))
    assert moved < moves_at_most


async def test_the_precision_setting_chooses_the_model_the_runner_serves_with(classifier_artifact, settings):
    import torch

    text = ["I was charged twice for one order."]
    answers, served = {}, {}
    for precision in ("fp32", "bf16", "int8"):
        settings.CLASSIFY_PRECISION = precision
        runner._batchers.clear()
        answers[precision] = (await _result(_request(classifier_artifact, text))).payload
        served[precision] = runner.load(str(classifier_artifact), precision)[0].encoder
    assert {payload["label"] for payload in answers.values()} == {"billing"}
    assert answers["bf16"]["probabilities"] != answers["fp32"]["probabilities"] != answers["int8"]["probabilities"]
    assert next(served["fp32"].parameters()).dtype == torch.float32
    assert next(served["bf16"].parameters()).dtype == torch.bfloat16
    assert any(type(module).__module__.startswith("torch.ao.nn.quantized") for module in served["int8"].modules())


def test_a_precision_the_device_cannot_serve_is_refused_in_words():
    from inference.training.classifier.model import resolve_precision

    with pytest.raises(ValueError, match="int8 classifier serving runs on the CPU only"):
        resolve_precision("int8", device="cuda")
    with pytest.raises(ValueError, match="Unknown classifier precision 'fp16'"):
        resolve_precision("fp16", device="cpu")
    assert resolve_precision("auto", device="cuda") == "bf16"
