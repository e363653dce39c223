"""The fine-tune pages in plain words: a validation loss that rose at the end is flagged, the form never
preselects a version too small to train on, the "queued" notice goes once the run leaves the queue, one token
limit, and the measures explained."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from inference.models import TrainingRun
from inference.training import services as worker
from products.datasets.tokens import LONG_TEXT_TOKENS
from products.training.loss_trend import validation_rise
from tests.training.conftest import ROWS
from tests.training.test_training_pages import _succeeded

pytestmark = pytest.mark.django_db

ROSE = "Stopped improving after step"


@pytest.fixture
def owner_client(client, shop):
    client.force_login(shop[1])
    return client


def _trained(run: TrainingRun, validation: list[tuple[int, float]]) -> TrainingRun:
    """A run the worker took through 8 steps, recording ``validation`` as (step, loss) held-out points."""
    worker.training_run_claim(worker="w", lease_seconds=600)
    worker.training_run_prepared(
        run_id=run.pk,
        worker="w",
        train_examples=11,
        validation_examples=1,
        total_steps=8,
        device="cpu",
        resumed_from_step=None,
        message="Training.",
    )
    held_out = dict(validation)
    for step in range(1, 9):
        points = [("train", step, 3.0 - 0.3 * step)]
        if step in held_out:
            points.append(("validation", step, held_out[step]))
        worker.training_run_progress_record(
            run_id=run.pk,
            worker="w",
            step=step,
            train_loss=points[0][2],
            tokens_seen=80 * step,
            seconds_per_step=1.0,
            points=points,
        )
    return TrainingRun.objects.get(pk=run.pk)


def test_a_validation_loss_that_rose_at_the_end_says_after_which_step_it_stopped_improving(
    owner_client, shop, make_run
):
    team = shop[0]
    run = _trained(make_run(), [(2, 2.6), (4, 2.1), (6, 2.3), (8, 2.5)])
    page = owner_client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert f"{ROSE} 4." in page
    assert "The validation loss was lowest there (2.100) and rose to 2.500 by step 8" in page
    # The chart fragment the page fetches again as points arrive says the same.
    fragment = owner_client.get(
        reverse("training_run_chart", args=[team.slug, run.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f"{ROSE} 4." in fragment


def test_a_validation_loss_that_kept_falling_or_only_wobbled_is_not_flagged(owner_client, shop, make_run):
    team = shop[0]
    falling = _trained(make_run(), [(2, 2.6), (4, 2.1), (6, 1.9), (8, 1.8)])
    page = owner_client.get(reverse("training_run", args=[team.slug, falling.pk])).content.decode()
    assert ROSE not in page
    # A rise under 2 % of the lowest loss is the noise of a few held-out rows, not over-fitting.
    assert (
        validation_rise(
            [{"split": "validation", "step": 2, "loss": 2.0}, {"split": "validation", "step": 4, "loss": 2.03}]
        )
        is None
    )
    rose = validation_rise(
        [
            {"split": "validation", "step": 2, "loss": 2.0},
            {"split": "validation", "step": 4, "loss": 2.1},
            {"split": "train", "step": 4, "loss": 0.5},
        ]
    )
    assert (rose.best_step, rose.last_step, rose.last_loss) == (2, 4, 2.1)


def test_the_form_preselects_a_version_big_enough_to_train_on_never_a_too_small_one(
    owner_client, shop, make_dataset_version
):
    team, _, product = shop
    small = make_dataset_version(ROWS[:10], name="A few")  # 9 to train on: sorted first, by name
    big = make_dataset_version(name="Descriptions")
    page = owner_client.get(reverse("fine_tune", args=[team.slug, product.slug])).content.decode()
    assert f'<option value="{big.pk}" selected>' in page
    assert f'<option value="{small.pk}">A few v1 · 9 to train on, 1 held out (too few to train on)</option>' in page
    assert "11 to train on, 1 held out" in page and "Expected time" in page  # the estimate is of the big one


def test_with_only_too_small_versions_the_form_asks_for_a_choice_and_preselects_none(
    owner_client, shop, make_dataset_version
):
    team, _, product = shop
    small = make_dataset_version(ROWS[:10])
    page = owner_client.get(reverse("fine_tune", args=[team.slug, product.slug])).content.decode()
    assert '<option value="" selected>Choose a dataset version</option>' in page
    assert f'<option value="{small.pk}">' in page and "selected>Descriptions" not in page
    assert "Choose a dataset version to see how long it will take." in page


def test_the_queued_notice_is_tagged_for_removal_once_a_worker_takes_the_run(owner_client, shop, make_dataset_version):
    team, _, product = shop
    version = make_dataset_version()
    response = owner_client.post(
        reverse("fine_tune", args=[team.slug, product.slug]), {"dataset_version": version.pk}, follow=True
    )
    page = response.content.decode()
    assert '<p class="flash run-queued success">Fine-tune queued. This page updates as it trains.</p>' in page
    script = (Path(settings.BASE_DIR) / "products/static/products/training_run.js").read_text()
    assert 'if (frame.status !== "queued") document.querySelectorAll(".flash.run-queued")' in script
    # Reloaded later, the notice is gone (a message shows once) and the status says where the run is.
    assert "Fine-tune queued" not in owner_client.get(response.request["PATH_INFO"]).content.decode()


def test_the_pages_state_one_token_limit_and_explain_lora_and_the_measures(owner_client, shop, make_run):
    team, _, product = shop
    run = make_run(max_length=LONG_TEXT_TOKENS)
    fine_tune = owner_client.get(reverse("fine_tune", args=[team.slug, product.slug])).content.decode()
    assert f"up to {LONG_TEXT_TOKENS} tokens per example" in fine_tune  # the default on the CPU too
    assert "The studio trains a LoRA adapter: a small add-on" in fine_tune
    run_page = owner_client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert f"<dt>Longest example</dt><dd>{LONG_TEXT_TOKENS} tokens</dd>" in run_page
    assert "Loss measures how surprised the model is by the real text: lower is better." in run_page
    report = owner_client.get(reverse("training_run", args=[team.slug, _succeeded(run).pk])).content.decode()
    assert "<summary>What these measures mean</summary>" in report
    assert "<dt>Perplexity</dt><dd>The same in a friendlier unit" in report and "<dt>BLEU</dt>" in report
