"""Uploading: streaming into storage with a server-chosen name and hash, the size cap, and no leftovers."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from products.datasets.services import dataset_upload_create, dataset_uploads_purge_stale
from products.models import DatasetUpload
from tests.products.conftest import GOOD_CSV, media_files, state, uploaded

pytestmark = pytest.mark.django_db

STORED_NAME = re.compile(r"datasets/team-\d+/[0-9a-f]{32}\.csv")
MB = 1024 * 1024


def test_upload_page_shows_a_drop_zone_and_the_size_limit(client, acme, acme_owner):
    client.force_login(acme_owner)
    response = client.get(reverse("dataset_upload", args=[acme.slug]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Drop a file here, or choose one" in html
    assert "up to 200 MB" in html
    assert 'enctype="multipart/form-data"' in html and "/static/products/dataset_upload.js" in html
    assert "xhr.upload" in Path(finders.find("products/dataset_upload.js")).read_text()  # the progress bar

def test_upload_of_a_valid_csv_stores_it_under_a_server_name_with_its_hash_and_opens_the_review(
    client, acme, acme_owner, media_root
):
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_upload", args=[acme.slug]),
        {"name": "Store FAQ", "description": "From the help desk", "file": uploaded("../../etc/faq.csv", GOOD_CSV)},
    )
    upload = DatasetUpload.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("dataset_upload_review", args=[acme.slug, upload.pk])
    assert STORED_NAME.fullmatch(upload.file.name)
    assert (media_root / upload.file.name).read_bytes() == GOOD_CSV
    assert upload.sha256 == hashlib.sha256(GOOD_CSV).hexdigest()
    assert (upload.original_name, upload.name, upload.description) == ("faq.csv", "Store FAQ", "From the help desk")
    assert (upload.format, upload.delimiter, upload.row_count, upload.verdict) == ("csv", ",", 3, "ready")
    assert upload.column_names == ["question", "answer"]
    assert upload.report["size_bytes"] == len(GOOD_CSV)
    assert media_files(media_root) == [upload.file.name]
    assert acme.datasets.count() == 0  # the dataset appears when the first version is saved


def test_upload_over_htmx_answers_with_a_client_redirect(client, acme, acme_owner):
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_upload", args=[acme.slug]),
        {"name": "FAQ", "file": uploaded("faq.csv", GOOD_CSV)},
        headers={"HX-Request": "true"},
    )
    upload = DatasetUpload.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("dataset_upload_review", args=[acme.slug, upload.pk])


def test_rejected_upload_over_htmx_returns_only_the_upload_panel_with_the_report(client, acme, acme_owner):
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_upload", args=[acme.slug]),
        {"name": "FAQ", "file": uploaded("faq.csv", b"question,answer\n")},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="upload-panel"')
    assert "<html" not in html
    assert "no rows of data below it" in html


def test_upload_service_refuses_a_file_over_the_size_cap_with_the_limit_in_the_message(
    settings, acme, acme_owner, media_root
):
    settings.MAX_UPLOAD_BYTES = 1 * MB
    with pytest.raises(ValidationError) as caught:
        dataset_upload_create(team=acme, user=acme_owner, file=uploaded("big.csv", b"a\n" + b"x" * (MB + MB // 2)),
                              name="Big")
    assert caught.value.message_dict == {
        "file": ["This file is 1.5 MB; the limit is 1.0 MB. Split it into smaller files, or ask whoever runs "
                 "the studio to raise STUDIO_MAX_UPLOAD_MB."]
    }
    assert state(media_root) == (0, 0, 0, [])


def test_upload_page_refuses_a_body_far_over_the_cap_before_parsing_it(client, settings, acme, acme_owner, media_root):
    settings.MAX_UPLOAD_BYTES = 1 * MB
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_upload", args=[acme.slug]), {"name": "Big", "file": uploaded("big.csv", b"x" * (3 * MB))}
    )
    assert response.status_code == 413
    assert "the limit is 1.0 MB" in response.content.decode()
    assert state(media_root) == (0, 0, 0, [])


def test_upload_handler_stops_reading_a_file_just_over_the_cap(client, settings, acme, acme_owner, media_root):
    settings.MAX_UPLOAD_BYTES = 1 * MB
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_upload", args=[acme.slug]),
        {"name": "Big", "file": uploaded("big.csv", b"a\n" + b"x" * (MB + MB // 2))},
    )
    assert response.status_code == 413
    assert escape("This file is 1.5 MB; the limit is 1.0 MB.") in response.content.decode()
    assert state(media_root) == (0, 0, 0, [])


def test_upload_with_a_name_the_team_already_uses_is_refused_before_reading_the_file(
    acme, acme_owner, media_root, make_version
):
    make_version(name="Store FAQ")
    before = state(media_root)
    with pytest.raises(ValidationError) as caught:
        dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="store faq")
    assert caught.value.message_dict == {
        "name": ["Your team already has a dataset with this name. Pick another name, or open that dataset and "
                 "upload a new version of it."]
    }
    assert state(media_root) == before


def test_upload_without_a_name_for_a_new_dataset_is_refused(acme, acme_owner, media_root):
    with pytest.raises(ValidationError) as caught:
        dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="  ")
    assert caught.value.message_dict == {"name": ["Give the dataset a name, e.g. “Product descriptions”."]}
    assert state(media_root) == (0, 0, 0, [])


def test_upload_that_fails_after_writing_the_file_deletes_the_file_and_keeps_no_rows(
    monkeypatch, acme, acme_owner, media_root
):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(DatasetUpload, "save", broken_save)
    with pytest.raises(RuntimeError, match="database went away"):
        dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="FAQ")
    assert state(media_root) == (0, 0, 0, [])


def test_upload_of_a_new_version_names_the_dataset_it_extends(client, acme, acme_owner, make_version):
    version = make_version(name="Store FAQ")
    client.force_login(acme_owner)
    url = reverse("dataset_version_upload", args=[acme.slug, version.dataset_id])
    response = client.post(url, {"file": uploaded("faq2.csv", GOOD_CSV)})
    upload = DatasetUpload.objects.get()
    assert upload.dataset == version.dataset and upload.name == ""
    review = client.get(response.url).content.decode()
    assert "This becomes a new version of Store FAQ." in review


def test_purge_forgets_day_old_uploads_and_their_files(
    acme, acme_owner, media_root, django_capture_on_commit_callbacks
):
    old = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("old.csv", GOOD_CSV), name="Old")
    fresh = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("new.csv", GOOD_CSV), name="New")
    DatasetUpload.objects.filter(pk=old.pk).update(created_at=old.created_at.replace(year=old.created_at.year - 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert dataset_uploads_purge_stale(team=acme) == 1
    assert list(DatasetUpload.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert media_files(media_root) == [fresh.file.name]


def test_purge_sweeps_old_files_no_row_names_but_keeps_recent_ones(acme, acme_owner, media_root):
    kept = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="FAQ")
    folder = media_root / f"datasets/team-{acme.pk}"
    orphan, recent = folder / "orphan.csv", folder / "recent.csv"
    orphan.write_bytes(b"left by a rolled-back transaction")
    recent.write_bytes(b"a transaction may still be committing this one")
    two_hours_ago = time.time() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    os.utime(media_root / kept.file.name, (two_hours_ago, two_hours_ago))
    dataset_uploads_purge_stale(team=acme)
    assert media_files(media_root) == sorted([kept.file.name, f"datasets/team-{acme.pk}/recent.csv"])
