"""Labelled datasets split by label, and the label counts and warnings their version page shows."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from products.datasets.selectors import dataset_version_examples
from products.datasets.split import stratified_validation_flags, validation_flags, validation_size
from tests.training.classifier_fixtures import sample_rows


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.integers(1, 40), min_size=2, max_size=8), fraction=st.sampled_from([0.1, 0.2, 0.3, 0.5]),
       seed=st.integers(0, 1000))
def test_the_stratified_split_holds_out_exactly_the_planned_rows_and_every_label_with_two_rows(counts, fraction, seed):
    labels = [f"label{i}" for i, count in enumerate(counts) for _ in range(count)]
    labels = [labels[(i * 7919) % len(labels)] for i in range(len(labels))]  # interleaved, as files are
    size = validation_size(len(labels), fraction)
    flags = stratified_validation_flags(labels, size, seed)
    assert sum(flags) == size and flags == stratified_validation_flags(labels, size, seed)
    held, kept = Counter(), Counter()
    for label, flag in zip(labels, flags, strict=True):
        (held if flag else kept)[label] += 1
    total = Counter(labels)
    eligible = [label for label in total if total[label] >= 2]
    room = sum(count - 1 for count in total.values())
    for label in total:
        if room >= size:  # never a label's last training row, unless so many are held out that one must go
            assert kept[label] >= 1
        if size >= len(eligible) and label in eligible:
            assert held[label] >= 1, (label, total[label], size)


def test_a_small_label_the_random_split_drops_is_kept_in_validation_by_the_stratified_one():
    labels = ["big"] * 57 + ["rare"] * 3
    size = validation_size(len(labels), 0.1)
    random_drops = sum(
        not any(flag and label == "rare" for flag, label in zip(validation_flags(60, size, seed), labels, strict=True))
        for seed in range(50)
    )
    assert random_drops > 25  # the old random split usually leaves "rare" out of validation …
    for seed in range(50):  # … the stratified one never does
        flags = stratified_validation_flags(labels, size, seed)
        assert any(flag and label == "rare" for flag, label in zip(flags, labels, strict=True))


@pytest.mark.django_db
def test_a_labelled_version_reads_its_rows_with_every_label_in_both_parts(make_labelled_version):
    rows = sample_rows(labels=("shipping", "billing"), per_label=27) + sample_rows(labels=("account",), per_label=3)
    version = make_labelled_version(rows, fraction=0.1)
    held = Counter(example["label"] for example in dataset_version_examples(version, split="validation"))
    train = Counter(example["label"] for example in dataset_version_examples(version, split="train"))
    assert sum(held.values()) == version.validation_count == 6
    assert held["account"] == 1 and train["account"] == 2
    assert train + held == Counter(label for _, label in rows)


@pytest.mark.django_db
def test_the_version_page_shows_label_counts_and_warns_about_rare_labels_and_imbalance(
    client, router, make_labelled_version
):
    team, owner, _ = router
    rows = sample_rows(labels=("shipping",), per_label=45) + sample_rows(labels=("billing",), per_label=4)
    version = make_labelled_version(rows, fraction=0.2)
    client.force_login(owner)
    page = client.get(reverse("dataset_version", args=[team.slug, version.dataset_id, version.number])).content.decode()
    assert 'data-testid="label-counts"' in page
    assert "<tr><th scope=\"row\">shipping</th><td>45</td>" in page
    assert "<tr><th scope=\"row\">billing</th><td>4</td>" in page
    assert ("1 label has fewer than 5 examples: “billing” (4). The classifier will rarely choose it and the report "
            "can say little about it; add examples, or merge the label into another.") in page
    assert ("The labels are heavily imbalanced: “shipping” has 11 times as many examples as “billing”.") in page


@pytest.mark.django_db
def test_another_teams_member_gets_404_for_the_labelled_version(client, make_team, make_labelled_version):
    version = make_labelled_version()
    stranger = make_team("Elsewhere").memberships.get().user
    client.force_login(stranger)
    other_slug = stranger.memberships.get().team.slug
    response = client.get(reverse("dataset_version", args=[other_slug, version.dataset_id, version.number]))
    assert response.status_code == 404
