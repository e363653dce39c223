"""Datasets through the API: upload a file as a mapped version in one call, list and read them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import ApiKey, Dataset, DatasetUpload, DatasetVersion
from tests.api.conftest import bearer
from tests.products.conftest import GOOD_CSV, media_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(make_team, make_key):
    team = make_team("Acme")
    return team, bearer(make_key(team))


def _upload(client, path: str = "/api/v1/datasets/", data: bytes = GOOD_CSV, filename: str = "faq.csv", **fields):
    fields = {"use": "qa:pairs", **fields}
    if isinstance(fields.get("column_mapping"), dict):
        fields["column_mapping"] = json.dumps(fields["column_mapping"])
    return client.post(path, {"file": SimpleUploadedFile(filename, data), **fields}, format="multipart")


def _nothing_left(media_root: Path) -> bool:
    return not (Dataset.objects.exists() or DatasetUpload.objects.exists() or media_files(media_root))


def test_upload_makes_a_dataset_with_a_mapped_version_in_one_call(api, media_root):
    team, client = api
    response = _upload(client, name="Store FAQ", description="From the help desk")
    assert response.status_code == 201, response.content
    body = response.json()
    dataset = Dataset.objects.get()
    assert (body["id"], body["name"], body["description"]) == (dataset.pk, "Store FAQ", "From the help desk")
    [version] = body["versions"]
    assert version["use"] == "qa:pairs" and version["number"] == 1
    assert version["column_mapping"] == {"question": ["question"], "answer": ["answer"]}  # guessed from names
    assert (version["columns"], version["row_count"], version["verdict"]) == (["question", "answer"], 3, "ready")
    assert version["note"] == "Uploaded faq.csv"
    stored = DatasetVersion.objects.get()
    assert (stored.dataset.team, stored.created_by) == (team, team.memberships.get().user)  # the key's maker
    assert not DatasetUpload.objects.exists()
    assert (media_root / stored.file.name).read_bytes() == GOOD_CSV


def test_new_version_of_an_existing_dataset_with_an_explicit_mapping(api):
    _, client = api
    dataset_id = _upload(client, name="Store FAQ").json()["id"]
    renamed = b"asked,replied\nWhere are you?,In Oslo.\nWho are you?,A shop.\n"
    response = _upload(client, f"/api/v1/datasets/{dataset_id}/versions/", data=renamed, filename="more.csv",
                       column_mapping={"question": ["asked"], "answer": ["replied"]}, validation_fraction=0,
                       note="More questions")
    assert response.status_code == 201, response.content
    versions = response.json()["versions"]
    assert [(v["number"], v["note"], v["validation_count"]) for v in versions] == [
        (2, "More questions", 0), (1, "Uploaded faq.csv", 1)]
    assert versions[0]["column_mapping"] == {"question": ["asked"], "answer": ["replied"]}


def test_an_unusable_file_comes_back_with_its_report_and_leaves_nothing(api, media_root):
    _, client = api
    response = _upload(client, data=b"\x00\x01\x02 not text \xff\xfe" * 40, filename="faq.csv", name="Broken")
    assert response.status_code == 400
    body = response.json()
    assert body["file"] and body["file"][0].strip() and isinstance(body["report"], dict)
    assert _nothing_left(media_root)


def test_a_file_only_a_fix_button_could_save_is_refused_over_the_api_with_its_report(api, media_root):
    _, client = api
    data = "question,answer\nCafé?,Oui\nShip?,Yes,to the EU\n".encode("latin-1")
    response = _upload(client, data=data, filename="faq.csv", name="Latin")
    assert response.status_code == 400
    codes = [issue["code"] for issue in response.json()["report"]["issues"] if issue["severity"] == "error"]
    assert codes == ["bad_encoding", "ragged_rows"]
    assert _nothing_left(media_root)


def test_a_mapping_naming_a_missing_column_is_refused_and_leaves_nothing(
    api, media_root, django_capture_on_commit_callbacks,
):
    _, client = api
    with django_capture_on_commit_callbacks(execute=True):  # the stored file is deleted after the commit
        response = _upload(client, name="Store FAQ", column_mapping={"question": ["asked"], "answer": ["answer"]})
    assert response.status_code == 400
    assert response.json() == {"column_mapping": {"question": ["There is no column “asked” in this file."]}}
    assert _nothing_left(media_root)


def test_shape_problems_are_named_per_field(api, media_root):
    _, client = api
    response = _upload(client, use="qa:everything", column_mapping="not json", validation_fraction=0.9)
    assert response.status_code == 400
    assert set(response.json()) == {"name", "use", "column_mapping", "validation_fraction"}
    assert _nothing_left(media_root)


def test_a_taken_name_is_refused(api, media_root):
    _, client = api
    assert _upload(client, name="Store FAQ").status_code == 201
    response = _upload(client, name="Store FAQ")
    assert response.status_code == 400
    assert response.json() == {"name": ["Your team already has a dataset with this name. Pick another name, or open "
                                        "that dataset and upload a new version of it."]}
    assert DatasetVersion.objects.count() == 1 and len(media_files(media_root)) == 1


def test_a_file_over_the_upload_limit_gets_413_and_is_not_kept(api, media_root, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    _, client = api
    response = _upload(client, data=GOOD_CSV * 60, name="Big")
    assert response.status_code == 413
    assert response.json()["detail"].startswith("This file is ") and "STUDIO_MAX_UPLOAD_MB" in response.json()["detail"]
    assert _nothing_left(media_root)


def test_read_only_key_lists_and_reads_but_cannot_upload(api, make_key, media_root):
    team, client = api
    dataset_id = _upload(client, name="Store FAQ").json()["id"]
    reader = bearer(make_key(team, scope=ApiKey.Scope.READ))
    page = reader.get("/api/v1/datasets/").json()
    assert page["count"] == 1
    assert page["results"][0] | {"created_at": None, "updated_at": None} == {
        "id": dataset_id, "name": "Store FAQ", "description": "", "version_count": 1, "latest_version": 1,
        "created_at": None, "updated_at": None}
    assert [v["number"] for v in reader.get(f"/api/v1/datasets/{dataset_id}/").json()["versions"]] == [1]
    refused = _upload(reader, name="Other")
    assert refused.status_code == 403 and "upload datasets" in refused.json()["detail"]
    assert _upload(reader, f"/api/v1/datasets/{dataset_id}/versions/").status_code == 403
    assert DatasetVersion.objects.count() == 1


NOT_AN_OBJECT = ('The column mapping must be an object of fields and their columns, e.g. {"question": ["q"], '
                 '"answer": ["a"]}; this is ')
MALFORMED_MAPPINGS = {
    "[]": NOT_AN_OBJECT + "a list.",
    '"abc"': NOT_AN_OBJECT + "a string.",
    "5": NOT_AN_OBJECT + "a number.",
    "null": NOT_AN_OBJECT + "null.",
    '{"question": 5}': 'The column mapping\'s “question” must be a list of column names, e.g. ["question"]; '
                       "it is a number.",
    '{"answer": "answer"}': 'The column mapping\'s “answer” must be a list of column names, e.g. ["answer"]; '
                            "it is a string.",
    '{"question": [["question"]]}': 'The column mapping\'s “question” must be a list of column names, e.g. '
                                    '["question"]; it is a list with something other than names.',
    "abc": "The column mapping cannot be read as JSON: Expecting value: line 1 column 1 (char 0)",
    "[" * 100_000: "The column mapping cannot be read as JSON: The JSON nests more than 32 levels deep; "
                   "send a flatter object.",
}


@pytest.mark.parametrize("mapping", list(MALFORMED_MAPPINGS))
def test_a_column_mapping_that_is_not_an_object_of_column_lists_is_400_and_leaves_nothing(api, media_root, mapping):
    _, client = api
    response = _upload(client, name="Store FAQ", column_mapping=mapping)
    assert (response.status_code, response.json()) == (400, {"column_mapping": [MALFORMED_MAPPINGS[mapping]]})
    assert _nothing_left(media_root)
    dataset_id = _upload(client, name="Kept FAQ").json()["id"]
    response = _upload(client, f"/api/v1/datasets/{dataset_id}/versions/", column_mapping=mapping)
    assert (response.status_code, response.json()) == (400, {"column_mapping": [MALFORMED_MAPPINGS[mapping]]})
    assert (DatasetVersion.objects.count(), DatasetUpload.objects.count()) == (1, 0)
    assert len(media_files(media_root)) == 1  # the first upload's file only


@pytest.mark.parametrize("mapping", [[], "abc", {"output": 5}, {"question": [1, 2]}])
def test_the_upload_service_checks_the_mapping_before_it_stores_the_file(api, media_root, mapping):
    from django.core.exceptions import ValidationError

    from products.api.services import api_dataset_version_upload

    team, _ = api
    key = ApiKey.objects.get(team=team)
    with pytest.raises(ValidationError) as caught:
        api_dataset_version_upload(api_key=key, file=SimpleUploadedFile("faq.csv", GOOD_CSV), use="qa:pairs",
                                   column_mapping=mapping, name="FAQ")
    assert list(caught.value.message_dict) == ["column_mapping"]
    assert _nothing_left(media_root)
