"""A new team's dashboard: a getting-started checklist ticked from the team's own data, and list pages
whose empty states say what to do next."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from products.embed.services import product_embed_update
from products.models import Generation
from products.services import product_create, product_version_create, product_version_publish
from studio.roles import Role
from tests.products.conftest import GOOD_CSV, uploaded

pytestmark = pytest.mark.django_db


def checklist(client, team) -> list[tuple[str, bool]]:
    html = client.get(reverse("dashboard", args=[team.slug])).content.decode()
    if 'data-testid="getting-started"' not in html:
        return []
    items = re.findall(r'<li class="(done|)">.*?<a href="[^"]*">([^<]+)</a>', html, flags=re.S)
    return [(title, state == "done") for state, title in items]


def test_checklist_ticks_each_step_from_real_data_and_goes_away_when_all_are_done(owner_client, make_team):
    team, user = owner_client.team, owner_client.user
    steps = ["Create a product", "Try it", "Upload a dataset", "Publish", "Embed it on your website"]
    assert checklist(owner_client, team) == [(step, False) for step in steps]

    product = product_create(team=team, user=user, kind_id="copywriting", template_id="ad-headlines")
    Generation.objects.create(team=team, product=product, status="finished", result={"text": "Hi"})
    other = make_team("Globex")  # another team's progress never ticks this one's list
    other_product = product_create(
        team=other, user=other.memberships.get().user, kind_id="copywriting", template_id="ad-headlines"
    )
    product_version_publish(product=other_product, version=product_version_create(product=other_product, user=user))
    assert checklist(owner_client, team) == [
        ("Create a product", True), ("Try it", True), ("Upload a dataset", False), ("Publish", False),
        ("Embed it on your website", False),
    ]

    from products.datasets.services import dataset_upload_create, dataset_version_create

    upload = dataset_upload_create(team=team, user=user, file=uploaded("faq.csv", GOOD_CSV), name="FAQ")
    dataset_version_create(source=upload, user=user, kind="qa", shape="pairs",
                           column_mapping={"question": ["question"], "answer": ["answer"]})
    product_version_publish(product=product, version=product_version_create(product=product, user=user))
    page = owner_client.get(reverse("dashboard", args=[team.slug])).content.decode()
    assert f'href="{reverse("embed", args=[team.slug, product.slug])}">Embed it on your website' in page
    assert [done for _, done in checklist(owner_client, team)] == [True, True, True, True, False]

    product_embed_update(product=product, allowed_origins=["https://shop.example"], messages_per_visitor_hour=20,
                         messages_per_day=500)
    assert checklist(owner_client, team) == []


def test_viewers_see_no_checklist(client, make_team, make_member):
    team = make_team("Acme")
    client.force_login(make_member(team, Role.VIEWER).user)
    assert checklist(client, team) == []


@pytest.mark.parametrize(
    ("url_name", "title", "next_step"),
    [
        ("product_list", "No products yet", "Create a product from a template"),
        ("dataset_list", "No datasets yet", "Upload a dataset"),
        ("training_runs", "No training runs yet", "Open your products"),
        ("api_keys", "No keys yet", "“Create a key”"),
    ],
)
def test_empty_list_pages_say_what_to_do_next(owner_client, url_name, title, next_step):
    html = owner_client.get(reverse(url_name, args=[owner_client.team.slug])).content.decode()
    assert f'<p class="empty-title">{title}</p>' in html
    assert next_step in html


def test_knowledge_tab_without_documents_says_how_to_add_them(owner_client):
    team = owner_client.team
    assistant = product_create(team=team, user=owner_client.user, kind_id="qa", template_id="store-faq")
    html = owner_client.get(reverse("knowledge_settings", args=[team.slug, assistant.slug])).content.decode()
    assert "No documents to answer from yet" in html
    assert f'href="{reverse("dataset_upload", args=[team.slug])}">Upload documents' in html


def _main_menu(html: str) -> list[str]:
    menu = re.search(r'<nav class="topnav" aria-label="Main">(.*?)</nav>', html, flags=re.S).group(1)
    return re.findall(r">([^<]+)</a>", menu)


@pytest.mark.parametrize(("role", "menu", "new_product"), [
    (Role.OWNER, ["Dashboard", "Datasets", "Products", "Training runs", "API keys", "Members"], True),
    (Role.ADMIN, ["Dashboard", "Datasets", "Products", "Training runs", "API keys", "Members"], True),
    (Role.EDITOR, ["Dashboard", "Datasets", "Products", "Training runs", "Members"], True),
    (Role.VIEWER, ["Dashboard", "Datasets", "Products", "Training runs", "Members"], False),
])
def test_the_main_menu_leads_to_training_runs_and_for_admins_to_api_keys_and_the_dashboard_offers_a_new_product(
    client, make_team, make_member, role, menu, new_product
):
    team = make_team("Acme")
    user = team.memberships.get().user if role == Role.OWNER else make_member(team, role).user
    client.force_login(user)
    html = client.get(reverse("dashboard", args=[team.slug])).content.decode()
    assert _main_menu(html) == menu
    button = f'<a class="button" href="{reverse("product_new", args=[team.slug])}" data-testid="new-product">'
    assert (button in html) is new_product
    # Each link opens for whoever sees it (API keys are for admins: a viewer would get 403).
    for name in ("training_runs", "api_keys") if "API keys" in menu else ("training_runs",):
        page = client.get(reverse(name, args=[team.slug])).content.decode()
        assert 'aria-current="page">' + ("Training runs" if name == "training_runs" else "API keys") in page


def test_a_products_kind_reads_in_words_on_the_dashboard_and_the_products_page(owner_client):
    team = owner_client.team
    product_create(team=team, user=owner_client.user, kind_id="copywriting", template_id="ad-headlines")
    for name in ("dashboard", "product_list"):
        html = owner_client.get(reverse(name, args=[team.slug])).content.decode()
        assert '<span class="tag">Marketing copy</span>' in html and ">copywriting<" not in html
