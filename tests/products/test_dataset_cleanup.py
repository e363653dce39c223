"""One-click clean-ups make new versions; deleting a version is allowed only when nothing uses it."""

from __future__ import annotations

import itertools
import json

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.urls import reverse

from products.datasets.selectors import dataset_version_iter_rows, dataset_version_usages
from products.datasets.services import (
    dataset_upload_create,
    dataset_upload_discard,
    dataset_version_clean,
    dataset_version_create,
    dataset_version_delete,
)
from products.models import DatasetUpload, DatasetVersion
from tests.products.conftest import media_files, uploaded

pytestmark = pytest.mark.django_db

MESSY = b"question,answer\nHours?, 9 to 5 \nShip?,Yes\n,\nHours?,9 to 5\nShip?,Yes\n"
_probe_names = itertools.count(1)


def test_clean_up_applies_every_action_into_a_new_version_and_leaves_the_old_one(acme_owner, make_version, media_root):
    version = make_version(MESSY)
    cleaned = dataset_version_clean(
        version=version, user=acme_owner, actions=["trim_whitespace", "drop_empty_rows", "drop_duplicates"]
    )
    assert cleaned.number == 2 and cleaned.derived_from == version
    assert cleaned.note == "Clean-up of v1: dropped 2 duplicate rows, dropped 1 empty row, trimmed 1 value."
    assert list(dataset_version_iter_rows(cleaned)) == [
        {"question": "Hours?", "answer": "9 to 5"}, {"question": "Ship?", "answer": "Yes"}
    ]
    assert (media_root / cleaned.file.name).read_bytes() == b"question,answer\r\nHours?,9 to 5\r\nShip?,Yes\r\n"
    assert (cleaned.row_count, cleaned.verdict, cleaned.column_mapping) == (2, "ready", version.column_mapping)
    assert (media_root / version.file.name).read_bytes() == MESSY
    assert sorted(media_files(media_root)) == sorted([version.file.name, cleaned.file.name])


def test_drop_duplicates_alone_compares_values_exactly(acme_owner, make_version):
    cleaned = dataset_version_clean(version=make_version(MESSY), user=acme_owner, actions=["drop_duplicates"])
    assert cleaned.note == "Clean-up of v1: dropped 1 duplicate row."
    assert cleaned.row_count == 4


def test_clean_up_with_nothing_to_do_is_refused_and_makes_no_version(acme_owner, make_version, media_root):
    version = make_version()
    with pytest.raises(ValidationError) as caught:
        dataset_version_clean(version=version, user=acme_owner, actions=["drop_duplicates", "drop_empty_rows"])
    assert caught.value.messages == [
        "Nothing to clean in v1: there was nothing to drop duplicate rows or drop empty rows."
    ]
    assert DatasetVersion.objects.count() == 1 and media_files(media_root) == [version.file.name]


def test_clean_up_of_jsonl_keeps_numbers_and_nested_values(acme_owner, make_version, media_root):
    data = (
        b'{"q": " Hi ", "a": "Hello", "score": 4.5, "tags": ["x"]}\n'
        b'{"q": "Hi", "a": "Hello", "score": 4.5, "tags": ["x"]}\n'
    )
    version = make_version(data, filename="faq.jsonl", mapping={"question": ["q"], "answer": ["a"]})
    cleaned = dataset_version_clean(version=version, user=acme_owner, actions=["trim_whitespace", "drop_duplicates"])
    lines = (media_root / cleaned.file.name).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"q": "Hi", "a": "Hello", "score": 4.5, "tags": ["x"]}]


def test_clean_up_page_redirects_to_the_new_version_with_what_changed(client, acme, acme_owner, make_version):
    version = make_version(MESSY)
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_version_clean", args=[acme.slug, version.dataset_id, 1]), {"actions": ["drop_empty_rows"]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dataset_version", args=[acme.slug, version.dataset_id, 2])
    assert "Saved v2: Clean-up of v1: dropped 1 empty row." in response.content.decode()


def test_deleting_an_unused_version_removes_its_row_and_file(acme, make_version, media_root,
                                                               django_capture_on_commit_callbacks):
    version = make_version()
    with django_capture_on_commit_callbacks(execute=True):
        dataset_version_delete(version=version)
    assert not DatasetVersion.objects.exists()
    assert media_files(media_root) == []
    assert acme.datasets.count() == 1


def test_deleting_a_version_keeps_the_file_another_version_shares(acme_owner, make_version, media_root,
                                                                   django_capture_on_commit_callbacks):
    version = make_version()
    remapped = dataset_version_create(source=version, user=acme_owner, kind="qa", shape="pairs",
                                      column_mapping=version.column_mapping, split_seed=7)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_version_delete(version=version)
    assert list(DatasetVersion.objects.values_list("number", flat=True)) == [2]
    assert media_files(media_root) == [remapped.file.name]
    remapped.refresh_from_db()
    assert remapped.derived_from is None


@pytest.fixture
def training_run_model(db):
    """A stand-in for models that will point at DatasetVersion (training runs, product versions)."""
    if connection.vendor == "sqlite":
        pytest.skip("Creating a table inside the test transaction needs PostgreSQL.")
    name = f"UsageProbe{next(_probe_names)}"
    model = type(name, (models.Model,), {
        "__module__": "products.models",
        "label": models.CharField(max_length=40),
        # related_name="+" on purpose: hidden relations must count as uses too.
        "dataset_version": models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="+"),
        "__str__": lambda self: self.label,
        "Meta": type("Meta", (), {"app_label": "products", "verbose_name": "training run"}),
    })
    with connection.schema_editor() as editor:
        editor.create_model(model)
    yield model
    # The table goes with the test transaction's rollback; only the model registry needs tidying.
    del apps.all_models["products"][name.lower()]
    apps.clear_cache()


def test_deleting_a_used_version_is_refused_and_says_what_uses_it(
    client, acme, acme_owner, make_version, media_root, training_run_model
):
    version = make_version()
    training_run_model.objects.create(label="Training run 7", dataset_version=version)
    training_run_model.objects.create(label="Training run 9", dataset_version=version)
    assert [u.label for u in dataset_version_usages(version=version)] == ["Training run 7", "Training run 9"]
    with pytest.raises(ValidationError) as caught:
        dataset_version_delete(version=version)
    assert caught.value.messages == [
        "v1 is used by 2 training runs (Training run 7, Training run 9), so it cannot be deleted. "
        "Delete or change those first, or keep this version."
    ]
    client.force_login(acme_owner)
    page = client.get(reverse("dataset_version", args=[acme.slug, version.dataset_id, 1])).content.decode()
    assert "Training run 7" in page and "cannot be deleted while something uses it" in page
    assert DatasetVersion.objects.count() == 1 and media_files(media_root) == [version.file.name]


def test_discarding_an_upload_removes_its_row_and_file(acme, acme_owner, media_root,
                                                        django_capture_on_commit_callbacks):
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", MESSY), name="FAQ")
    with django_capture_on_commit_callbacks(execute=True):
        dataset_upload_discard(upload=upload)
    assert not DatasetUpload.objects.exists() and media_files(media_root) == []
