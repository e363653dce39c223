"""products.releases.assignment.arm_for: sticky, and the split it gives matches the share set."""

from __future__ import annotations

import pytest

from products.releases.assignment import CANDIDATE, CONTROL, arm_for


def test_the_same_visitor_gets_the_same_arm_every_time_and_another_release_draws_afresh():
    ids = [f"visitor-{n}" for n in range(2000)]
    first = [arm_for(product_id=7, release_id=3, stable_id=i, share_percent=20) for i in ids]
    again = [arm_for(product_id=7, release_id=3, stable_id=i, share_percent=20) for i in ids]
    next_release = [arm_for(product_id=7, release_id=4, stable_id=i, share_percent=20) for i in ids]
    assert first == again
    assert first != next_release  # a new split does not send the same people to every candidate


@pytest.mark.parametrize("share", [1, 20, 50, 90])
def test_the_share_of_ids_on_the_candidate_matches_the_split(share):
    arms = [arm_for(product_id=1, release_id=1, stable_id=f"user:{n}", share_percent=share) for n in range(50_000)]
    seen = 100 * arms.count(CANDIDATE) / len(arms)
    assert abs(seen - share) < 0.6, f"{seen:.2f} % on the candidate for a {share} % split"


def test_growing_the_share_only_moves_visitors_onto_the_candidate():
    ids = [f"v{n}" for n in range(5000)]
    at_10 = {i for i in ids if arm_for(product_id=1, release_id=2, stable_id=i, share_percent=10) == CANDIDATE}
    at_30 = {i for i in ids if arm_for(product_id=1, release_id=2, stable_id=i, share_percent=30) == CANDIDATE}
    assert at_10 < at_30


def test_without_a_stable_id_everyone_stays_on_the_live_version():
    assert arm_for(product_id=1, release_id=1, stable_id="", share_percent=99) == CONTROL
