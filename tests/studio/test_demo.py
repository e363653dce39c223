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
