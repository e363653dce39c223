"""Dataset pages read well: list, dataset, version, review, and the htmx fragments they swap."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.datasets.services import dataset_upload_create
from tests.products.conftest import uploaded

pytestmark = pytest.mark.django_db


def rows(count: int) -> bytes:
    return ("question,answer\n" + "".join(f"Question {i}?,Answer {i}\n" for i in range(count))).encode()


def test_dataset_list_shows_the_latest_version_rows_check_and_use(client, acme, acme_owner, make_version):
    make_version(rows(3), name="Store FAQ")
    client.force_login(acme_owner)
    html = client.get(reverse("dataset_list", args=[acme.slug])).content.decode()
    assert "Store FAQ" in html and ">v1</a>" in html and "Q&amp;A assistant" in html
    assert "Ready" in html and "Upload a dataset" in html


def test_nav_and_dashboard_link_to_datasets(client, acme, acme_owner, make_version):
    version = make_version(name="Store FAQ")
    client.force_login(acme_owner)
    html = client.get(reverse("dashboard", args=[acme.slug])).content.decode()
    assert f'href="{reverse("dataset_list", args=[acme.slug])}"' in html
    assert f'href="{reverse("dataset_detail", args=[acme.slug, version.dataset_id])}">Store FAQ</a>' in html
    assert "v1 · 3 rows" in html


def test_dashboard_invites_admins_to_upload_when_there_are_no_datasets(client, acme, acme_owner):
    client.force_login(acme_owner)
    html = client.get(reverse("dashboard", args=[acme.slug])).content.decode()
    assert f'href="{reverse("dataset_upload", args=[acme.slug])}"' in html


def test_review_page_shows_report_examples_and_a_guessed_mapping(client, acme, acme_owner):
    data = b"question,answer\nHours?,9 to 5\nShip?,Yes\nShip?,Yes\n"
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", data), name="FAQ")
    client.force_login(acme_owner)
    html = client.get(reverse("dataset_upload_review", args=[acme.slug, upload.pk])).content.decode()
    assert "Ready with warnings" in html
    assert "1 row repeats an earlier row exactly." in html and "same as line 3" in html
    assert '<option value="qa:pairs" selected>Q&amp;A: question → answer</option>' in html
    assert "Three examples, exactly as the model will see them" in html
    assert html.count('class="example"') == 3
    assert "Example 1" in html and "Hours?" in html and "9 to 5" in html
    assert "Page 1 of 1" in html


def test_preview_pages_through_rows_with_htmx_fragments_and_plain_links(client, acme, acme_owner, make_version):
    version = make_version(rows(60))
    client.force_login(acme_owner)
    page_url = reverse("dataset_version", args=[acme.slug, version.dataset_id, 1])
    full = client.get(page_url).content.decode()
    assert f'href="{page_url}?page=2"' in full and f'hx-get="{page_url}?page=2"' in full
    fragment = client.get(page_url, {"page": "3"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section class="panel" id="preview"')
    assert "Page 3 of 3" in fragment and "Question 50?" in fragment and "Question 49?" not in fragment
    assert "<html" not in fragment


def test_changing_the_mapping_over_htmx_returns_the_mapping_fragment_with_new_examples(client, acme, acme_owner):
    data = b"question,answer\nHours?,9 to 5\n"
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", data), name="FAQ")
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_upload_review", args=[acme.slug, upload.pk]),
        {"purpose": "qa:pairs", "shown_purpose": "qa:pairs", "map_question": "answer", "map_answer": "question",
         "validation_percent": "10", "split_seed": "42", "action": "save"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel" id="mapping"')
    assert '<pre class="block-text">9 to 5</pre>' in html.split("User")[1].split("Assistant")[0]
    assert upload.__class__.objects.filter(pk=upload.pk).exists()  # htmx changes never save


def test_version_page_shows_split_mapping_examples_and_actions(client, acme, acme_owner, make_version):
    version = make_version(rows(20), fraction=0.25, seed=9)
    client.force_login(acme_owner)
    html = client.get(reverse("dataset_version", args=[acme.slug, version.dataset_id, 1])).content.decode()
    assert "20: 15 to train on, 5 held out for validation (25 %, seed 9)" in html
    assert "Q&amp;A: question → answer" in html
    assert "Save a cleaned version" in html and "Delete v1" in html and "Change mapping or split" in html
    assert "No product or training run uses this version yet." in html


def test_dataset_page_lists_versions_with_their_split_and_what_uses_them(client, acme, acme_owner, make_version):
    first = make_version(rows(10))
    make_version(rows(12), dataset=first.dataset)
    client.force_login(acme_owner)
    html = client.get(reverse("dataset_detail", args=[acme.slug, first.dataset_id])).content.decode()
    assert html.index(">v2</a>") < html.index(">v1</a>")
    assert "11 train · 1 validation" in html and "9 train · 1 validation" in html
    assert "nothing yet" in html and "Upload a new version" in html
