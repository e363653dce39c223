from __future__ import annotations

import pytest
from django.contrib.auth import authenticate

from inference.models import KnowledgeIndex
from products.models import Product
from studio.demo import DEMO_EMAIL, demo_seed

pytestmark = pytest.mark.django_db


def test_demo_seed_creates_a_working_login_team_and_sample_products_once():
    first = demo_seed()
    assert authenticate(username=DEMO_EMAIL, password=first.password) is not None
    assert first.team.memberships.get().role == "owner"
    names = set(Product.objects.filter(team=first.team).values_list("name", flat=True))
    assert {"Shop product descriptions", "Ad headlines"} <= names
    live = Product.objects.get(name="Shop product descriptions").live_version
    assert live is not None and live.number == 1

    again = demo_seed()  # the launcher runs it at every start: nothing new, same password
    assert again.password == first.password
    assert Product.objects.filter(team=first.team).count() == len(names)


def test_demo_q_and_a_samples_are_live_on_the_sample_datasets_with_their_reading_queued():
    team = demo_seed().team
    for name, dataset in (("Store FAQ assistant", "Store FAQ"), ("Help-centre assistant", "Help centre articles")):
        product = Product.objects.get(team=team, name=name)
        assert product.kind == "qa" and product.live_version is not None
        assert product.live_version.knowledge_version.dataset.name == dataset
        index = KnowledgeIndex.objects.get(dataset_version=product.live_version.knowledge_version)
        assert (index.team_id, index.queue) == (team.pk, "index")
    assert KnowledgeIndex.objects.count() == 2
    demo_seed()
    assert KnowledgeIndex.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_demo_ticket_router_trains_on_its_sample_at_first_run_and_publishes_itself(bundled_models):
    from inference.models import TrainingRun
    from inference.training.worker import TrainingWorker

    team = demo_seed().team
    run = TrainingRun.objects.get(team=team, method="classifier")
    assert (run.product.name, run.dataset_version.dataset.name, run.method, run.publish_on_success) == (
        "Support ticket router", "Support tickets", "classifier", True)
    demo_seed()
    assert TrainingRun.objects.filter(team=team).count() == 2  # the recommender's too; later starts queue no more

    assert TrainingWorker(poll_seconds=1).run_once()

    run.refresh_from_db()
    product = Product.objects.get(pk=run.product_id)
    assert run.status == "succeeded" and product.live_version is not None
    assert product.live_version.fine_tuned_artifact_id == run.artifact.pk
    assert run.log_entries.last().message == "Finished, and published as version 1: the product answers now."


def test_the_demo_recommender_is_queued_on_the_shop_samples_to_publish_itself_at_first_run():
    # Training that exact sample is tests/products/test_recommendation_kind.py's journey; publishing on success
    # is the router's test above: this one checks the demo queues the run that joins them.
    from inference.models import TrainingRun

    team = demo_seed().team
    run = TrainingRun.objects.get(team=team, method="recommender")
    assert (run.product.name, run.dataset_version.dataset.name, run.publish_on_success, run.queue) == (
        "Shop recommendations", "Shop purchases", True, "short")
    assert run.inputs.get(role="catalog").dataset_version.dataset.name == "Shop catalog"
    assert run.total_steps == 47 and run.train_examples == 1120
    demo_seed()
    assert TrainingRun.objects.filter(team=team, method="recommender").count() == 1
