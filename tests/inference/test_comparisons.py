"""The comparison worker: both versions' outputs for every input, through the one start path, resumable.

A real InferenceWorker with the scripted runner of tests/comparisons.py answers on its own loop (as the
server's loop does in the embedded default); the comparison worker runs in the test's thread.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.core.cache import cache

import inference.comparisons
from inference.comparisons import ComparisonWorker
from products.comparisons.services import comparison_create
from products.embed.limits import generation_limits_check
from products.models import Comparison, Generation
from tests.comparisons import inference_loop, recent_inputs, two_version_product, version_tokens
from tests.fakes import scripted_runner
from tests.processes import manage_command, processes_stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(make_team):
    cache.clear()  # rate-limit counters
    team = make_team("Acme")
    owner = team.memberships.get().user
    product, version_a, version_b = two_version_product(team, owner)
    return team, owner, product, version_a, version_b


def _start(setup, *, size: int = 5, features: list[str] | None = None) -> Comparison:
    team, owner, product, version_a, version_b = setup
    recent_inputs(product, owner, count=size, features=features)
    return comparison_create(product=product, version_a=version_a, version_b=version_b,
                             source=Comparison.Source.RECENT, size=size, user=owner)


def _worker(loop, **kwargs) -> ComparisonWorker:
    return ComparisonWorker(loop=loop, lease_seconds=kwargs.pop("lease_seconds", 5), poll_seconds=0.1,
                            item_timeout_s=kwargs.pop("item_timeout_s", 20), **kwargs)


def _comparison_generations():
    return Generation.objects.filter(channel=Generation.Channel.COMPARISON)


def test_worker_writes_both_versions_output_for_every_input_through_the_comparison_channel(setup):
    team, owner, product, version_a, version_b = setup
    comparison = _start(setup)
    with inference_loop() as (loop, runner):
        assert _worker(loop).run_once()
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.SUCCEEDED, comparison.error
    assert (comparison.pairs_done, comparison.pairs_total, comparison.progress_percent) == (5, 5, 100)
    pairs = list(comparison.pairs.order_by("position"))
    assert len(pairs) == 5
    for pair in pairs:
        fact = pair.inputs["features"]
        assert pair.output_a == {"text": f"Plain copy about {fact}."}
        assert pair.output_b == {"text": f"Bold copy about {fact}."}
        assert pair.generation_a.version == version_a and pair.generation_b.version == version_b
        assert pair.error == ""
    generations = _comparison_generations()
    assert generations.count() == 10 and len(runner.requests) == 10
    assert set(generations.values_list("status", flat=True)) == {Generation.Status.FINISHED}
    assert set(generations.values_list("user", flat=True)) == {owner.pk}


def test_comparison_generations_leave_the_playground_limits_and_recent_results_alone(setup, settings):
    team, owner, product, version_a, version_b = setup
    settings.PLAYGROUND_GENERATIONS_PER_MINUTE = 3
    comparison = _start(setup)
    with inference_loop() as (loop, _runner):
        _worker(loop).run_once()
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.SUCCEEDED, comparison.error
    assert _comparison_generations().count() == 10  # more than the playground's 3 a minute
    # The person's playground quota is untouched: all 3 are still free.
    assert generation_limits_check(channel="playground", product=product, user_id=owner.pk, api_key_id=None,
                                   visitor="", cost=3) is None
    # The playground's recent results and the API's generation log list what people asked, not the comparison.
    from products.api.selectors import generation_list_for_product
    from products.selectors import generation_list

    assert [g.channel for g in generation_list(product=product)] == ["playground"] * 5
    assert [g.channel for g in generation_list_for_product(product=product)] == ["playground"] * 5


def test_a_restarted_worker_resumes_from_the_pairs_already_written(setup, monkeypatch):
    comparison = _start(setup)
    record = inference.comparisons._pair_record
    calls = []

    def crash_on_sixth(**kwargs):
        calls.append(kwargs["side"])
        if len(calls) == 6:  # pair 3's second output: the process dies before saving it
            raise RuntimeError("worker killed")
        return record(**kwargs)

    with inference_loop() as (loop, _runner):
        monkeypatch.setattr(inference.comparisons, "_pair_record", crash_on_sixth)
        with pytest.raises(RuntimeError, match="worker killed"):
            _worker(loop, lease_seconds=1).run_once()
        comparison.refresh_from_db()
        assert comparison.status == Comparison.Status.RUNNING  # nobody released it: its lease runs out
        assert comparison.pairs.filter(output_a__isnull=False).count() == 3
        assert comparison.pairs.filter(output_b__isnull=False).count() == 2
        before = _comparison_generations().count()
        assert before == 6

        monkeypatch.setattr(inference.comparisons, "_pair_record", record)
        time.sleep(1.2)  # the dead worker's lease expires
        assert _worker(loop).run_once()  # sweeps it back into the queue, claims it and resumes
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.SUCCEEDED, comparison.error
    assert comparison.attempts == 2 and comparison.pairs_done == 5
    assert comparison.pairs.filter(output_a__isnull=False, output_b__isnull=False).count() == 5
    # Only what was missing was written again: pair 3's second output, and pairs 4 and 5.
    assert _comparison_generations().count() - before == 5


def test_an_input_that_fails_twice_is_left_out_with_the_reason_and_the_rest_compare(setup):
    comparison = _start(setup, size=5, features=["350 ml stoneware", "Broken kettle", "solid oak, 45 cm",
                                               "merino, 130 x 170 cm", "washed linen, set of 3"])
    with inference_loop() as (loop, _runner):
        _worker(loop).run_once()
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.SUCCEEDED
    broken = comparison.pairs.get(inputs__features="Broken kettle")
    assert broken.output_a is None and broken.output_b is None
    assert broken.error == (f"Version {comparison.version_a.number} failed: the scripted engine broke on purpose")
    # Tried once more, then given up; version B was not asked for an input A could not answer.
    failed = _comparison_generations().filter(status=Generation.Status.FAILED)
    assert failed.count() == 2 and set(failed.values_list("version", flat=True)) == {comparison.version_a.pk}
    assert comparison.pairs.filter(output_a__isnull=False, output_b__isnull=False).count() == 4
    assert comparison.pairs_done == 5


def test_with_no_inference_worker_the_comparison_fails_saying_the_model_is_not_answering(setup, settings):
    settings.INFERENCE_START_TIMEOUT_S = 0.2
    comparison = _start(setup, size=5)
    with inference_loop(runner=False) as (loop, _runner):
        _worker(loop).run_once()
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.FAILED
    assert comparison.error == (
        "Neither version could answer any of the inputs: Version "
        f"{comparison.version_a.number} failed: The model is not answering right now (no inference worker is "
        "running). Try again in a minute."
    )
    assert _comparison_generations().filter(status=Generation.Status.FAILED).count() == 10  # 5 inputs, tried twice


def test_a_killed_comparison_worker_process_leaves_the_job_to_the_next_worker(setup, settings):
    """``manage.py comparison_worker`` in its own process (Redis), killed mid-job; the next worker finishes it."""
    if "Redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        pytest.skip("A separate worker process needs REDIS_URL (CI sets it).")
    comparison = _start(setup)
    # Slow answers (about 0.5 s each), so the process is killed with pairs still to write.
    with inference_loop(scripted_runner(version_tokens, delay_s=0.15)) as (loop, _runner):
        first = manage_command("comparison_worker", STUDIO_INDEX_LEASE_S="2", STUDIO_TRAINING_POLL_S="1")
        try:
            wait_for(lambda: first.poll() is not None or Comparison.objects.get(pk=comparison.pk).pairs_done >= 2,
                     "two pairs written by the worker process", timeout=60)
            assert first.poll() is None, first.stdout.read()
            os.kill(first.pid, signal.SIGKILL)
        finally:
            processes_stop([first])
        orphan = Comparison.objects.get(pk=comparison.pk)
        assert (orphan.status, orphan.attempts) == ("running", 1) and 2 <= orphan.pairs_done < 5
        kept = dict(orphan.pairs.filter(output_b__isnull=False).values_list("pk", "generation_b"))

        second = _worker(loop, lease_seconds=2)
        wait_for(second.run_once, "the expired lease to be swept and the comparison claimed again", timeout=30,
                 every=0.5)
    comparison.refresh_from_db()
    assert (comparison.status, comparison.attempts, comparison.pairs_done) == ("succeeded", 2, 5), comparison.error
    assert comparison.pairs.filter(output_a__isnull=False, output_b__isnull=False).count() == 5
    # What the dead process saved stays as it was; only the rest was written again.
    assert dict(comparison.pairs.filter(pk__in=kept).values_list("pk", "generation_b")) == kept
    assert 10 <= _comparison_generations().count() <= 11  # at most the one answer in flight at the kill
