"""Team isolation and roles: other teams get 404 everywhere; only admins and owners change datasets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.datasets.services import dataset_upload_create
from products.models import Dataset, DatasetUpload, DatasetVersion
from studio.roles import Role
from tests.products.conftest import GOOD_CSV, media_files, uploaded

pytestmark = pytest.mark.django_db

# (method, url name, needs) where needs says which ids the URL takes.
READ_PAGES = [
    ("get", "dataset_list", ()),
    ("get", "dataset_detail", ("dataset",)),
    ("get", "dataset_version", ("dataset", "number")),
    ("get", "dataset_version_download", ("dataset", "number")),
]
WRITE_PAGES = [
    ("get", "dataset_upload", ()),
    ("post", "dataset_upload", ()),
    ("post", "dataset_version_upload", ("dataset",)),
    ("get", "dataset_upload_review", ("upload",)),
    ("post", "dataset_upload_review", ("upload",)),
    ("post", "dataset_upload_discard", ("upload",)),
    ("post", "dataset_version_clean", ("dataset", "number")),
    ("get", "dataset_version_remap", ("dataset", "number")),
    ("post", "dataset_version_remap", ("dataset", "number")),
    ("post", "dataset_version_delete", ("dataset", "number")),
]
FORM = {
    "name": "Stolen", "action": "save", "purpose": "qa:pairs", "shown_purpose": "qa:pairs",
    "map_question": "answer", "map_answer": "question", "validation_percent": "20", "split_seed": "1",
    "actions": ["drop_duplicates", "drop_empty_rows", "trim_whitespace"],
}


@pytest.fixture
def team_a_data(acme, acme_owner, make_version):
    version = make_version(GOOD_CSV + b"Can I return an item?,Within 30 days.\n")
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("more.csv", GOOD_CSV),
                                   dataset=version.dataset)
    return {"dataset": version.dataset_id, "number": version.number, "upload": upload.pk}


def url(name, team, ids, needs):
    return reverse(name, args=[team.slug, *[ids[need] for need in needs]])


def snapshot(media_root):
    return (
        list(Dataset.objects.values_list("pk", "name")),
        list(DatasetVersion.objects.values_list("pk", "number", "kind")),
        list(DatasetUpload.objects.values_list("pk", flat=True)),
        media_files(media_root),
    )


@pytest.mark.parametrize(("method", "name", "needs"), READ_PAGES + WRITE_PAGES)
def test_owner_of_another_team_gets_404_and_changes_nothing(
    client, make_team, acme, team_a_data, media_root, method, name, needs
):
    outsider = make_team("Team B").memberships.get().user
    client.force_login(outsider)
    before = snapshot(media_root)
    data = dict(FORM, file=uploaded("faq.csv", GOOD_CSV)) if method == "post" else {}
    response = getattr(client, method)(url(name, acme, team_a_data, needs), data)
    assert response.status_code == 404
    assert snapshot(media_root) == before


@pytest.mark.parametrize("name", ["dataset_detail", "dataset_version", "dataset_version_download"])
def test_a_dataset_id_of_another_team_is_404_even_in_my_own_team_url(client, make_team, team_a_data, name):
    team_b = make_team("Team B")
    client.force_login(team_b.memberships.get().user)
    needs = ("dataset", "number") if name != "dataset_detail" else ("dataset",)
    assert client.get(url(name, team_b, team_a_data, needs)).status_code == 404


def test_team_b_does_not_see_team_a_datasets_in_its_list(client, make_team, team_a_data):
    team_b = make_team("Team B")
    client.force_login(team_b.memberships.get().user)
    html = client.get(reverse("dataset_list", args=[team_b.slug])).content.decode()
    assert "FAQ" not in html and "No datasets yet" in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
@pytest.mark.parametrize(("method", "name", "needs"), READ_PAGES)
def test_viewers_and_editors_can_read_datasets(client, acme, make_member, team_a_data, role, method, name, needs):
    client.force_login(make_member(acme, role).user)
    assert client.get(url(name, acme, team_a_data, needs)).status_code == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
@pytest.mark.parametrize(("method", "name", "needs"), WRITE_PAGES)
def test_viewers_and_editors_cannot_change_datasets(
    client, acme, make_member, team_a_data, media_root, role, method, name, needs
):
    client.force_login(make_member(acme, role).user)
    before = snapshot(media_root)
    data = dict(FORM, file=uploaded("faq.csv", GOOD_CSV)) if method == "post" else {}
    response = getattr(client, method)(url(name, acme, team_a_data, needs), data)
    assert response.status_code == 403
    assert snapshot(media_root) == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_read_only_members_see_no_change_buttons(client, acme, make_member, team_a_data, role):
    client.force_login(make_member(acme, role).user)
    version_page = client.get(url("dataset_version", acme, team_a_data, ("dataset", "number"))).content.decode()
    list_page = client.get(reverse("dataset_list", args=[acme.slug])).content.decode()
    assert "Download CSV" in version_page
    assert "Save a cleaned version" not in version_page and "Delete v1" not in version_page
    assert 'class="fix-form' not in version_page  # the report's fix buttons are for admins
    assert "Upload a dataset" not in list_page and "Waiting for you" not in list_page


def test_an_admin_can_upload(client, acme, make_member):
    client.force_login(make_member(acme, Role.ADMIN).user)
    response = client.post(reverse("dataset_upload", args=[acme.slug]),
                           {"name": "FAQ", "file": uploaded("faq.csv", GOOD_CSV)})
    assert response.status_code == 302 and DatasetUpload.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, acme, team_a_data):
    response = client.get(reverse("dataset_version_download", args=[acme.slug, team_a_data["dataset"], 1]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
