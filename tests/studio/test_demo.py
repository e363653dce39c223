from __future__ import annotations

import pytest
from django.contrib.auth import authenticate

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
