"""Versions: saving a mapped upload, numbering, immutability, streaming rows and the seeded split."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from products.datasets.selectors import dataset_version_examples, dataset_version_iter_rows
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.datasets.split import validation_flags, validation_size
from products.models import DatasetUpload, DatasetVersion
from tests.products.conftest import GOOD_CSV, media_files, uploaded

pytestmark = pytest.mark.django_db

FAQ_MAPPING = {"question": ["question"], "answer": ["answer"]}


def numbered_csv(rows: int) -> bytes:
    return ("question,answer\n" + "".join(f"Question {i}?,Answer {i}\n" for i in range(rows))).encode()


def test_saving_a_mapped_upload_creates_the_dataset_and_version_1_and_hands_over_the_file(
    client, acme, acme_owner, media_root
):
    client.force_login(acme_owner)
    client.post(reverse("dataset_upload", args=[acme.slug]),
                {"name": "Store FAQ", "description": "Help desk", "file": uploaded("faq.csv", GOOD_CSV)})
    upload = DatasetUpload.objects.get()
    response = client.post(
        reverse("dataset_upload_review", args=[acme.slug, upload.pk]),
        {"action": "save", "purpose": "qa:pairs", "shown_purpose": "qa:pairs", "map_question": "question",
         "map_answer": "answer", "validation_percent": "34", "split_seed": "7"},
    )
    version = DatasetVersion.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("dataset_version", args=[acme.slug, version.dataset_id, 1])
    assert (version.dataset.name, version.dataset.description, version.dataset.team) == ("Store FAQ", "Help desk", acme)
    assert (version.number, version.kind, version.shape, version.column_mapping) == (1, "qa", "pairs", FAQ_MAPPING)
    assert (version.validation_fraction, version.split_seed, version.validation_count) == (0.34, 7, 1)
    assert (version.file.name, version.sha256, version.row_count) == (upload.file.name, upload.sha256, 3)
    assert (version.created_by, version.note) == (acme_owner, "Uploaded faq.csv")
    assert not DatasetUpload.objects.exists()
    assert media_files(media_root) == [version.file.name]


def test_saving_without_a_required_column_shows_the_field_error_and_saves_nothing(client, acme, acme_owner):
    client.force_login(acme_owner)
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="FAQ")
    response = client.post(
        reverse("dataset_upload_review", args=[acme.slug, upload.pk]),
        {"action": "save", "purpose": "qa:pairs", "shown_purpose": "qa:pairs", "map_question": "question",
         "map_answer": "", "validation_percent": "10", "split_seed": "42"},
    )
    assert response.status_code == 200
    assert "Choose the column that holds answer." in response.content.decode()
    assert not DatasetVersion.objects.exists() and DatasetUpload.objects.filter(pk=upload.pk).exists()


def test_switching_the_use_shows_its_fields_with_a_guess_instead_of_saving(client, acme, acme_owner):
    client.force_login(acme_owner)
    data = b"message,category\nWhere is my parcel?,shipping\nRefund please,billing\n"
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("support.csv", data), name="Support")
    response = client.post(
        reverse("dataset_upload_review", args=[acme.slug, upload.pk]),
        {"action": "save", "purpose": "classification:labelled", "shown_purpose": "qa:pairs",
         "map_question": "message", "map_answer": "category", "validation_percent": "10", "split_seed": "42"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and not DatasetVersion.objects.exists()
    assert 'name="map_text"' in html and 'name="map_question"' not in html
    assert '<option value="message" selected>message</option>' in html
    assert '<option value="category" selected>category</option>' in html


@pytest.mark.parametrize(
    ("mapping", "errors"),
    [
        ({"question": ["nope"], "answer": ["answer"]}, {"question": ["There is no column “nope” in this file."]}),
        ({"question": ["question", "answer"], "answer": []},
         {"question": ["Choose one column for question."], "answer": ["Choose the column that holds answer."]}),
        ({"question": ["question"], "answer": ["question"]},
         {"answer": ["“question” is already used for question; each column can feed one field."]}),
    ],
)
def test_version_create_rejects_an_invalid_mapping_with_a_message_per_field(acme, acme_owner, mapping, errors):
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="FAQ")
    with pytest.raises(ValidationError) as caught:
        dataset_version_create(source=upload, user=acme_owner, kind="qa", shape="pairs", column_mapping=mapping)
    assert caught.value.message_dict == errors
    assert not DatasetVersion.objects.exists()


def test_version_create_rejects_a_validation_share_over_half(acme, acme_owner):
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="FAQ")
    with pytest.raises(ValidationError) as caught:
        dataset_version_create(source=upload, user=acme_owner, kind="qa", shape="pairs",
                               column_mapping=FAQ_MAPPING, validation_fraction=0.6)
    assert caught.value.message_dict == {
        "validation_fraction": ["Hold out between 0 and 50 % of the rows for validation."]
    }


def test_an_upload_saves_only_once(acme, acme_owner):
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("faq.csv", GOOD_CSV), name="FAQ")
    dataset_version_create(source=upload, user=acme_owner, kind="qa", shape="pairs", column_mapping=FAQ_MAPPING)
    with pytest.raises(ValidationError) as caught:
        dataset_version_create(source=upload, user=acme_owner, kind="qa", shape="pairs", column_mapping=FAQ_MAPPING)
    assert caught.value.messages == [
        "This upload was already saved or discarded. Open the dataset to see its versions."
    ]
    assert DatasetVersion.objects.count() == 1


def test_a_new_upload_of_the_same_dataset_becomes_the_next_version_and_the_old_one_stays(make_version, media_root):
    first = make_version()
    second = make_version(numbered_csv(5), dataset=first.dataset)
    assert (first.dataset_id, second.number, second.row_count) == (second.dataset_id, 2, 5)
    first.refresh_from_db()
    assert first.row_count == 3 and (media_root / first.file.name).read_bytes() == GOOD_CSV
    assert first.file.name != second.file.name


def test_a_saved_version_cannot_be_changed(make_version):
    version = make_version()
    version.note = "edited"
    with pytest.raises(ValidationError) as caught:
        version.save()
    assert caught.value.messages == [
        "Dataset version FAQ v1 cannot be changed. Create a new version (upload, clean up or re-map)."
    ]
    assert DatasetVersion.objects.get().note == "Uploaded faq.csv"


def test_iter_rows_streams_every_row_in_file_order(make_version):
    version = make_version(numbered_csv(12))
    rows = list(dataset_version_iter_rows(version))
    assert rows[0] == {"question": "Question 0?", "answer": "Answer 0"}
    assert [row["answer"] for row in rows] == [f"Answer {i}" for i in range(12)]


def test_split_is_disjoint_complete_exact_and_the_same_on_every_read(make_version):
    version = make_version(numbered_csv(50), fraction=0.2, seed=11)
    train = list(dataset_version_iter_rows(version, split="train"))
    validation = list(dataset_version_iter_rows(version, split="validation"))
    assert (len(train), len(validation), version.validation_count, version.train_count) == (40, 10, 10, 40)
    assert sorted(r["answer"] for r in train + validation) == sorted(f"Answer {i}" for i in range(50))
    assert validation == list(dataset_version_iter_rows(version, split="validation"))


def test_a_different_seed_holds_out_different_rows(make_version):
    one = make_version(numbered_csv(50), seed=1)
    two = make_version(numbered_csv(50), dataset=one.dataset, seed=2)
    assert list(dataset_version_iter_rows(one, split="validation")) != list(
        dataset_version_iter_rows(two, split="validation")
    )


def test_iter_rows_rejects_an_unknown_split(make_version):
    with pytest.raises(ValueError, match="split must be None, 'train' or 'validation', not 'test'."):
        next(dataset_version_iter_rows(make_version(), split="test"))


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(0, 400), fraction=st.floats(0, 0.5), seed=st.integers(0, 2**31 - 1))
def test_validation_flags_pick_exactly_the_planned_number_of_rows_deterministically(rows, fraction, seed):
    size = validation_size(rows, fraction)
    flags = list(validation_flags(rows, size, seed))
    assert len(flags) == rows and sum(flags) == size
    assert flags == list(validation_flags(rows, size, seed))
    if rows >= 2 and fraction > 0:
        assert 1 <= size <= rows - 1


def test_examples_use_canonical_names_and_skip_rows_missing_a_required_value(make_version):
    data = b"question,answer\nHours?, 9 to 5 \nBroken?,\nShip?,Yes\n"
    version = make_version(data)
    assert list(dataset_version_examples(version, kind="qa")) == [
        {"question": "Hours?", "answer": "9 to 5"},
        {"question": "Ship?", "answer": "Yes"},
    ]


def test_examples_for_copywriting_keep_each_input_column_by_name(make_version):
    data = b"product,features,description\nMug,350 ml,A cosy mug.\nCup,,A tiny cup.\n"
    version = make_version(data, filename="copy.csv", name="Copy", kind="copywriting", shape="examples",
                           mapping={"inputs": ["product", "features"], "output": ["description"]})
    assert list(dataset_version_examples(version)) == [
        {"inputs": {"product": "Mug", "features": "350 ml"}, "output": "A cosy mug."},
        {"inputs": {"product": "Cup"}, "output": "A tiny cup."},
    ]


def test_examples_refuse_a_kind_the_version_is_not_mapped_for(make_version):
    version = make_version()
    with pytest.raises(ValueError) as caught:
        next(dataset_version_examples(version, kind="classification"))
    assert str(caught.value) == (
        "FAQ v1 is mapped for “Q&A assistant”, not “Classification”. Re-map it on its dataset page (“Use for another "
        "product kind”)."
    )


def test_remapping_makes_a_new_version_that_shares_the_file(client, acme, acme_owner, make_version, media_root):
    version = make_version(b"question,answer\nHours?,9 to 5\nShip?,Yes\n")
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_version_remap", args=[acme.slug, version.dataset_id, 1]),
        {"action": "save", "purpose": "classification:labelled", "shown_purpose": "classification:labelled",
         "map_text": "question", "map_label": "answer", "validation_percent": "0", "split_seed": "42"},
    )
    remapped = DatasetVersion.objects.get(number=2)
    assert response.url == reverse("dataset_version", args=[acme.slug, version.dataset_id, 2])
    assert (remapped.kind, remapped.column_mapping, remapped.validation_count) == (
        "classification", {"text": ["question"], "label": ["answer"]}, 0)
    assert (remapped.file.name, remapped.sha256, remapped.derived_from) == (version.file.name, version.sha256, version)
    assert remapped.note == "Re-mapped from v1"
    assert media_files(media_root) == [version.file.name]


def test_remapping_with_nothing_changed_is_refused(acme_owner, make_version):
    version = make_version()
    with pytest.raises(ValidationError) as caught:
        dataset_version_create(source=version, user=acme_owner, kind="qa", shape="pairs",
                               column_mapping=FAQ_MAPPING, validation_fraction=0.1, split_seed=42)
    assert caught.value.messages == ["Nothing changed: v1 already has this mapping and split."]


def test_version_numbers_stay_unique_when_versions_come_from_several_sources(acme_owner, make_version):
    first = make_version()
    numbers = [first.number]
    for seed in itertools.islice(itertools.count(100), 3):
        numbers.append(dataset_version_create(source=first, user=acme_owner, kind="qa", shape="pairs",
                                              column_mapping=FAQ_MAPPING, split_seed=seed).number)
    assert numbers == [1, 2, 3, 4]
