"""The Compare pages: start a comparison, follow it, vote blind, read the result; roles and team isolation."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from products.models import Comparison, ComparisonPair, ComparisonVote
from studio.roles import Role
from tests.comparisons import ready_comparison, recent_inputs, two_version_product

pytestmark = pytest.mark.django_db

NOTES = ("Calm voice draft", "Energetic voice draft")


@pytest.fixture
def two_versions(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    # Versions 4 and 5 (three before them), so their numbers are something to look for in the page.
    product, version_a, version_b = two_version_product(team, owner, notes=NOTES, extra_versions=3)
    return team, owner, product, version_a, version_b


def _url(team, product, suffix: str = "") -> str:
    return f"/t/{team.slug}/products/{product.slug}/compare/{suffix}"


def test_editor_starts_a_comparison_on_recent_inputs_and_its_pairs_exist_at_once(client, two_versions):
    team, owner, product, version_a, version_b = two_versions
    recent_inputs(product, owner, count=6)
    client.force_login(owner)
    page = client.get(_url(team, product))
    assert page.status_code == 200 and b"Start the comparison" in page.content
    response = client.post(_url(team, product, "start/"), {
        "version_a": version_a.pk, "version_b": version_b.pk, "source": "recent", "size": 5})
    comparison = Comparison.objects.get()
    assert response.status_code == 302 and response["Location"] == comparison.get_absolute_url()
    assert (comparison.status, comparison.queue, comparison.pairs_total) == ("queued", "comparison", 5)
    assert comparison.pairs.count() == 5
    assert comparison.created_by == owner
    progress = client.get(comparison.get_absolute_url())
    assert b"Waiting for the comparison worker" in progress.content and b'hx-trigger="every 2s"' in progress.content
    partial = client.get(comparison.get_absolute_url(), headers={"HX-Request": "true"})
    assert partial.content.lstrip().startswith(b"<div id=\"comparison-status\"")
    assert b"<html" not in partial.content


def test_start_refuses_bad_choices_with_a_message_and_queues_nothing(client, two_versions):
    team, owner, product, version_a, version_b = two_versions
    client.force_login(owner)
    same = client.post(_url(team, product, "start/"), {
        "version_a": version_a.pk, "version_b": version_a.pk, "source": "recent", "size": 5})
    assert same.status_code == 400 and b"Pick two different versions." in same.content
    no_inputs = client.post(_url(team, product, "start/"), {
        "version_a": version_a.pk, "version_b": version_b.pk, "source": "recent", "size": 5})
    assert no_inputs.status_code == 400
    assert b"This product has no finished generations yet whose inputs both versions accept" in no_inputs.content
    no_dataset = client.post(_url(team, product, "start/"), {
        "version_a": version_a.pk, "version_b": version_b.pk, "source": "held-out", "size": 5})
    assert b"Pick the dataset version whose held-out rows to use." in no_dataset.content
    too_many = client.post(_url(team, product, "start/"), {
        "version_a": version_a.pk, "version_b": version_b.pk, "source": "recent", "size": 51})
    assert too_many.status_code == 400 and b"less than or equal to 50" in too_many.content
    assert not Comparison.objects.exists() and not ComparisonPair.objects.exists()


def test_held_out_rows_of_a_dataset_version_become_the_inputs(client, two_versions):
    from products.datasets.services import dataset_upload_create, dataset_version_create
    from tests.products.conftest import uploaded
    from tests.training.conftest import dataset_csv

    team, owner, product, version_a, version_b = two_versions
    upload = dataset_upload_create(team=team, user=owner, file=uploaded("shop.csv", dataset_csv()), name="Shop")
    dataset_version = dataset_version_create(
        source=upload, user=owner, kind="copywriting", shape="examples",
        column_mapping={"inputs": ["product", "features"], "output": ["description"]}, validation_fraction=0.5,
    )
    client.force_login(owner)
    response = client.post(_url(team, product, "start/"), {
        "version_a": version_a.pk, "version_b": version_b.pk, "source": "held-out",
        "dataset_version": dataset_version.pk, "size": 20})
    assert response.status_code == 302
    comparison = Comparison.objects.get()
    from products.datasets.selectors import dataset_version_iter_rows

    held_out = [{"product": row["product"], "features": row["features"]}
                for row in dataset_version_iter_rows(dataset_version, split="validation")]
    assert len(held_out) == 6
    assert [pair.inputs for pair in comparison.pairs.order_by("position")] == held_out
    assert comparison.pairs_total == 6 and comparison.dataset_version == dataset_version


def test_voting_page_never_says_which_side_is_which_version(client, two_versions):
    team, owner, product, version_a, version_b = two_versions
    comparison = ready_comparison(product, version_a, version_b, owner)
    client.force_login(owner)
    html = client.get(_url(team, product, f"{comparison.pk}/vote/")).content.decode()
    pair = comparison.pairs.order_by("position").first()
    fact = pair.inputs["features"]
    assert f"Plain copy about {fact}." in html and f"Bold copy about {fact}." in html
    left_first = html.index("Plain copy") < html.index("Bold copy")
    assert left_first == pair.left_is_a  # the order is the pair's own draw
    for version in (version_a, version_b):
        assert not re.search(rf"(?i)\bv(?:ersion)?[\s_-]*{version.number}\b", html), version.number
        for leak in (f"/versions/{version.number}", version.note, f"version={version.pk}"):
            assert leak not in html, leak
    for leak in ("version_a", "version_b", "Version A", "Version B", "left_is_a", "output_a", "output_b"):
        assert leak not in html, leak
    form = html[html.index('<form method="post" action="/t/'):]
    form = form[:form.index("</form>")]
    assert set(re.findall(r'name="([^"]+)"', form)) == {"csrfmiddlewaretoken", "pair", "side"}
    assert re.findall(r'name="pair" value="([^"]+)"', form) == [str(pair.pk)]
    assert sorted(re.findall(r'name="side" value="([^"]+)"', form)) == ["left", "right", "tie"]


def test_a_vote_is_stored_as_the_version_it_chose_and_counts_once_per_person(client, two_versions, make_member):
    team, owner, product, version_a, version_b = two_versions
    comparison = ready_comparison(product, version_a, version_b, owner)
    pair = comparison.pairs.order_by("position").first()
    client.force_login(owner)
    vote_url = _url(team, product, f"{comparison.pk}/vote/cast/")
    response = client.post(vote_url, {"pair": pair.pk, "side": "left"})
    assert response.status_code == 302 and response["Location"] == _url(team, product, f"{comparison.pk}/vote/")
    vote = ComparisonVote.objects.get()
    assert (vote.pair, vote.user, vote.choice) == (pair, owner, "a" if pair.left_is_a else "b")
    # The page moves on to the next pair.
    assert f'name="pair" value="{pair.pk}"' not in client.get(response["Location"]).content.decode()

    again = client.post(vote_url, {"pair": pair.pk, "side": "right"}, follow=True)
    assert "You have already voted on this pair; your first vote stands." in again.content.decode()
    assert list(ComparisonVote.objects.values_list("choice", flat=True)) == [vote.choice]

    other = make_member(team, Role.EDITOR).user
    client.force_login(other)
    client.post(vote_url, {"pair": pair.pk, "side": "tie"})
    assert ComparisonVote.objects.filter(pair=pair).count() == 2
    assert ComparisonVote.objects.get(user=other).choice == "tie"

    second = comparison.pairs.order_by("position")[1]
    bad = client.post(vote_url, {"pair": second.pk, "side": "version_a"}, follow=True)
    assert "Choose Left, Right or Tie." in bad.content.decode()
    assert not ComparisonVote.objects.filter(pair=second).exists()
    nonsense = client.post(vote_url, {"pair": "x", "side": "left"}, follow=True)
    assert nonsense.status_code == 200 and "did not say which pair" in nonsense.content.decode()


def _seed_votes(comparison, *, b: int, a: int = 0, ties: int = 0) -> None:
    """One person per vote, each on the first pair, so no one votes twice."""
    pair = comparison.pairs.order_by("position").first()
    User = get_user_model()
    for n, choice in enumerate(["b"] * b + ["a"] * a + ["tie"] * ties):
        user = User.objects.create_user(username=f"voter{n}@example.com", email=f"voter{n}@example.com")
        ComparisonVote.objects.create(pair=pair, user=user, choice=choice)


def test_results_say_not_decided_at_nineteen_votes(client, two_versions):
    team, owner, product, version_a, version_b = two_versions
    comparison = ready_comparison(product, version_a, version_b, owner)
    _seed_votes(comparison, b=19, ties=3)
    client.force_login(owner)
    html = client.get(comparison.get_absolute_url()).content.decode()
    assert "Not decided yet: 1 more vote." in html
    assert f"Version {version_b.number} wins" not in html
    assert re.search(r'data-testid="wins-b">19<', html) and re.search(r'data-testid="ties">3<', html)
    assert "100 % of 19 votes (95 % interval 83–100 %)" in html


def test_results_name_the_winner_at_twenty_votes_with_a_clear_lead(client, two_versions):
    team, owner, product, version_a, version_b = two_versions
    comparison = ready_comparison(product, version_a, version_b, owner)
    _seed_votes(comparison, b=16, a=4, ties=5)
    client.force_login(owner)
    html = client.get(comparison.get_absolute_url()).content.decode()
    assert f"Version {version_b.number} wins." in html
    assert "80 % of 20 votes (95 % interval 58–92 %)" in html
    assert re.search(r'data-testid="wins-a">4<', html)


def test_viewers_vote_and_read_results_but_cannot_start(client, two_versions, make_member):
    team, owner, product, version_a, version_b = two_versions
    comparison = ready_comparison(product, version_a, version_b, owner)
    viewer = make_member(team, Role.VIEWER).user
    client.force_login(viewer)
    page = client.get(_url(team, product))
    assert page.status_code == 200 and b"Start the comparison" not in page.content
    refused = client.post(_url(team, product, "start/"), {
        "version_a": version_a.pk, "version_b": version_b.pk, "source": "recent", "size": 5})
    assert refused.status_code == 403
    assert Comparison.objects.count() == 1
    pair = comparison.pairs.order_by("position").first()
    assert client.get(_url(team, product, f"{comparison.pk}/vote/")).status_code == 200
    client.post(_url(team, product, f"{comparison.pk}/vote/cast/"), {"pair": pair.pk, "side": "right"})
    assert ComparisonVote.objects.get().user == viewer
    assert client.get(comparison.get_absolute_url()).status_code == 200


def test_another_team_gets_404_on_every_comparison_page_and_action(client, two_versions, make_team):
    team, owner, product, version_a, version_b = two_versions
    comparison = ready_comparison(product, version_a, version_b, owner)
    pair = comparison.pairs.first()
    stranger_team = make_team("Globex")
    stranger = stranger_team.memberships.get().user
    client.force_login(stranger)
    start = {"version_a": version_a.pk, "version_b": version_b.pk, "source": "recent", "size": 5}
    for team_slug in (team.slug, stranger_team.slug):  # their URL, and ours with their ids
        base = f"/t/{team_slug}/products/{product.slug}/compare/"
        assert client.get(base).status_code == 404
        assert client.post(base + "start/", start).status_code == 404
        assert client.get(f"{base}{comparison.pk}/").status_code == 404
        assert client.get(f"{base}{comparison.pk}/", headers={"HX-Request": "true"}).status_code == 404
        assert client.get(f"{base}{comparison.pk}/vote/").status_code == 404
        assert client.post(f"{base}{comparison.pk}/vote/cast/", {"pair": pair.pk, "side": "left"}).status_code == 404
    # A product of their own with our comparison's id finds nothing either.
    own, _, _ = two_version_product(stranger_team, stranger)
    assert client.get(f"/t/{stranger_team.slug}/products/{own.slug}/compare/{comparison.pk}/").status_code == 404
    assert client.post(f"/t/{stranger_team.slug}/products/{own.slug}/compare/{comparison.pk}/vote/cast/",
                       {"pair": pair.pk, "side": "left"}).status_code == 404
    assert not ComparisonVote.objects.exists() and Comparison.objects.count() == 1
