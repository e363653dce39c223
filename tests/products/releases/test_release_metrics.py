"""Per-arm figures come from the rollups and equal a hand count of the generations behind them."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest
from django.urls import reverse

from products.models import FeedbackEvent, Generation, Release, UsageRollup
from products.releases.assignment import CANDIDATE, CONTROL
from products.releases.histogram import BUCKET_EDGES_MS, bucket_of
from products.releases.selectors import release_report, usage_by_day
from products.releases.services import release_start
from products.services import feedback_event_record, generation_feedback_set, generation_finish
from tests.products.releases.conftest import ask

pytestmark = pytest.mark.django_db


def _seed_log(product, owner) -> Release:
    """150 generations from 100 visitors, finished (some twice, some failed), rated, re-rated and corrected."""
    release = release_start(product=product, candidate=product.versions.get(number=2), share_percent=30, user=owner)
    rng = random.Random(16)
    for n in range(150):
        generation = ask(product, f"visitor{n % 100:04d}")
        failed = rng.random() < 0.1
        for _ in range(2 if n % 7 == 0 else 1):  # a retried finish must not count twice
            generation_finish(
                generation_id=generation.pk, output="" if failed else "Sale!", tokens_in=rng.randint(5, 40),
                finish_reason="error" if failed else "eos", tokens_out=rng.randint(1, 60),
                time_to_first_token_s=None if failed else rng.lognormvariate(-1.5, 0.7), duration_s=1.0,
                error="boom" if failed else "",
            )
        if failed:
            continue
        generation.refresh_from_db()
        rating = rng.choice([1, 1, -1, 0])
        if rating:
            generation_feedback_set(generation=generation, value=-rating)  # changed their mind: only the last counts
            generation_feedback_set(generation=generation, value=rating)
        if rng.random() < 0.2:
            for _ in range(2):  # two corrections of one answer: one corrected generation
                feedback_event_record(generation=generation, kind=FeedbackEvent.Kind.CORRECTION,
                                      value={"text": "Summer sale: 20 % off"})
    return release


def _hand_count(release: Release, arm: str) -> dict:
    rows = list(Generation.objects.filter(release=release, arm=arm))
    corrected = set(FeedbackEvent.objects.filter(kind="correction", generation__in=rows)
                    .values_list("generation_id", flat=True))
    times = [g.time_to_first_token_ms for g in rows if g.time_to_first_token_ms is not None]
    return {
        "generations": len(rows), "errors": sum(g.status == "failed" for g in rows),
        "thumbs_up": sum(g.feedback == 1 for g in rows), "thumbs_down": sum(g.feedback == -1 for g in rows),
        "corrected": len(corrected), "tokens": sum(g.tokens_in + g.tokens_out for g in rows), "times": times,
    }


def _within_a_bucket(estimate: float, exact: float) -> bool:
    index = bucket_of(int(exact))
    low = 0 if index == 0 else BUCKET_EDGES_MS[index - 1]
    return abs(estimate - exact) <= BUCKET_EDGES_MS[index] - low


def test_per_arm_figures_equal_a_hand_count_of_the_seeded_log(product, owner):
    release = _seed_log(product, owner)
    report = release_report(release=release)
    for arm, totals in ((CONTROL, report.control), (CANDIDATE, report.candidate)):
        hand = _hand_count(release, arm)
        assert (totals.generations, totals.errors, totals.thumbs_up, totals.thumbs_down, totals.corrected,
                totals.tokens) == (hand["generations"], hand["errors"], hand["thumbs_up"], hand["thumbs_down"],
                                   hand["corrected"], hand["tokens"]), arm
        for percent, estimate in ((50, totals.ttft_p50_ms), (95, totals.ttft_p95_ms)):
            exact = float(np.percentile(hand["times"], percent))
            assert _within_a_bucket(estimate, exact), f"{arm} p{percent}: {estimate:.0f} vs numpy {exact:.0f}"
    assert report.control.generations + report.candidate.generations == 150
    assert report.candidate.generations > 0
    thumbs = next(c for c in report.comparisons if c.name == "Rated good (👍)")
    assert thumbs.interval.low < thumbs.difference < thumbs.interval.high
    assert not report.srm_warning


def test_the_release_page_shows_the_per_arm_table_read_from_the_rollups(client, product, owner):
    release = _seed_log(product, owner)
    client.force_login(owner)
    page = client.get(reverse("releases", args=[product.team.slug, product.slug])).content.decode()
    hand = _hand_count(release, CANDIDATE)
    assert f'<td data-testid="candidate-generations">{hand["generations"]}</td>' in page
    assert f'<td data-testid="candidate-errors">{hand["errors"]}</td>' in page
    assert f'<td data-testid="candidate-tokens">{hand["tokens"]}</td>' in page
    rate = 100 * hand["thumbs_up"] / hand["generations"]
    assert f'<td data-testid="candidate-thumbs-up">{rate:.1f} %</td>' in page
    assert "A/B split: version 2 for 30 % of visitors" in page and "The traffic split is off" not in page


def _seed_rollups(product, release, *, control: int, candidate: int) -> None:
    for arm, count in ((CONTROL, control), (CANDIDATE, candidate)):
        UsageRollup.objects.create(team=product.team, product=product, version_number=1 if arm == CONTROL else 2,
                                   release_pk=release.pk, arm=arm, channel="widget", day=date.today(),
                                   generations=count)


def test_a_split_far_from_its_share_shows_the_sample_ratio_warning(client, product, owner):
    release = release_start(product=product, candidate=product.versions.get(number=2), share_percent=20, user=owner)
    client.force_login(owner)
    url = reverse("releases", args=[product.team.slug, product.slug])
    _seed_rollups(product, release, control=800, candidate=205)
    assert "The traffic split is off" not in client.get(url).content.decode()
    UsageRollup.objects.all().delete()
    _seed_rollups(product, release, control=500, candidate=300)
    page = client.get(url).content.decode()
    assert "The traffic split is off." in page
    assert "Version 2 got 37.5 % of generations, but the split was set to 20 %" in page


def test_feedback_on_a_generation_still_running_is_counted_once_when_it_finishes(product, owner):
    generation = ask(product, "early-rater")
    generation_feedback_set(generation=generation, value=1)
    generation_finish(generation_id=generation.pk, output="Hi", finish_reason="eos", tokens_in=3, tokens_out=2,
                      time_to_first_token_s=0.12, duration_s=0.3)
    [day] = usage_by_day(team=product.team, product=product, days=1)
    assert (day.totals.generations, day.totals.thumbs_up, day.totals.tokens) == (1, 1, 5)
    assert 100 < day.totals.ttft_p50_ms <= 150


def test_clicks_and_purchases_of_recommended_items_count_once_per_generation_per_arm(client, product, owner):
    release = release_start(product=product, candidate=product.versions.get(number=2), share_percent=50, user=owner)
    clicked = {CONTROL: 0, CANDIDATE: 0}
    for n in range(20):
        generation = ask(product, f"shopper{n}")
        generation_finish(generation_id=generation.pk, output="", finish_reason="eos", tokens_in=1, tokens_out=0,
                          time_to_first_token_s=0.05, duration_s=0.1, result={"items": []})
        if n % 2:
            for item in ("sku-1", "sku-2"):  # two clicks on one answer: one answer that got a click
                feedback_event_record(generation=generation, kind=FeedbackEvent.Kind.CLICK, item=item)
            clicked[generation.arm] += 1
        if n % 4 == 1:
            feedback_event_record(generation=generation, kind=FeedbackEvent.Kind.PURCHASE, item="sku-1")
    report = release_report(release=release)
    assert (report.control.clicked, report.candidate.clicked) == (clicked[CONTROL], clicked[CANDIDATE])
    assert report.control.purchased + report.candidate.purchased == 5
    assert {c.name for c in report.comparisons} >= {"Click rate", "Purchase rate"}
    client.force_login(owner)
    assert "<th scope=\"row\">Click rate</th>" in client.get(
        reverse("releases", args=[product.team.slug, product.slug])).content.decode()


def test_generations_of_other_channels_than_playground_widget_and_api_are_not_usage(product, owner):
    generation = ask(product, "someone")
    Generation.objects.filter(pk=generation.pk).update(channel="comparison")  # a blind comparison's worker
    generation_finish(generation_id=generation.pk, output="Hi", finish_reason="eos", tokens_in=3, tokens_out=2,
                      time_to_first_token_s=0.1, duration_s=0.2)
    generation.refresh_from_db()
    generation_feedback_set(generation=generation, value=1)
    assert not UsageRollup.objects.exists()


def test_rankings_without_a_first_token_are_counted_in_one_update_with_what_happened_while_they_ran(
        product, owner, django_assert_num_queries):
    """A ranking (no time to first token) finishing after the day's row exists: its rating, click and purchase
    given while it ran are counted, and its ending takes five statements (begin, the generation's update and
    read, one UPDATE of the rollup's counters, commit): it is on the way to every answer."""
    first = ask(product, "shopper-a")
    generation_finish(generation_id=first.pk, output="", finish_reason="eos", tokens_in=0, tokens_out=0,
                      time_to_first_token_s=None, duration_s=0.02, result={"items": []})  # creates the day's row
    running = ask(product, "shopper-b")
    generation_feedback_set(generation=running, value=-1)
    for kind in (FeedbackEvent.Kind.CLICK, FeedbackEvent.Kind.CLICK, FeedbackEvent.Kind.PURCHASE):
        feedback_event_record(generation=running, kind=kind, item="sku-1")
    with django_assert_num_queries(5):
        generation_finish(generation_id=running.pk, output="", finish_reason="eos", tokens_in=2, tokens_out=3,
                          time_to_first_token_s=None, duration_s=0.02, result={"items": []})
    [row] = UsageRollup.objects.all()
    assert (row.generations, row.errors, row.thumbs_up, row.thumbs_down, row.clicked, row.purchased, row.corrected,
            row.tokens_in, row.tokens_out, row.ttft_histogram) == (2, 0, 0, 1, 1, 1, 0, 2, 3, [])
