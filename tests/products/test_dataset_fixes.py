"""Forgiving uploads: one report lists every problem of a messy file, and each fix button makes a fixed copy
(uploads) or a new version (versions) with exactly the expected rows, never touching what it started from."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from products.datasets.reader import read_as_cp1252, text_lines
from products.datasets.selectors import dataset_upload_list_for_team, stored_rows
from products.datasets.services import (
    DatasetFileRejected,
    dataset_upload_create,
    dataset_upload_create_with_fixes,
    dataset_version_clean,
)
from products.datasets.validation import validate_file
from products.models import DatasetUpload, DatasetVersion
from tests.products.conftest import media_files, state, uploaded

pytestmark = pytest.mark.django_db

# A Latin-1 / Windows-1252 line (3), ragged rows (4, 6), an empty row (5), a duplicate (7 of 2) and
# formula cells (8, 9); a negative number (10) is a value, not a formula.
MESSY = (
    b"question,answer\n"
    b"What are your opening hours?,We open at 9.\n"
    + "Caf\u00e9 au lait?,Oui \u2013 it\u2019s on the menu\n".encode("cp1252")
    + b"Do you ship abroad?,Yes,to the EU\n"
    b",\n"
    b"Returns?\n"
    b"What are your opening hours?,We open at 9.\n"
    b"Any discounts?,@members get 10% off\n"
    b"How do I pay?,=card or cash\n"
    b"Price of a mug?,-4.5\n"
)
HOURS = {"question": "What are your opening hours?", "answer": "We open at 9."}
CAFE = {"question": "Café au lait?", "answer": "Oui – it’s on the menu"}
EMPTY = {"question": "", "answer": ""}
DISCOUNTS = {"question": "Any discounts?", "answer": "@members get 10% off"}
PAY = {"question": "How do I pay?", "answer": "=card or cash"}
MUG = {"question": "Price of a mug?", "answer": "-4.5"}


def rows(obj) -> list[dict[str, str]]:
    return [row for _, row in stored_rows(obj)]


def issues(report: dict) -> dict[str, dict]:
    return {issue["code"]: issue for issue in report["issues"]}


def fix(client, team, upload, *actions):
    return client.post(reverse("dataset_upload_fix", args=[team.slug, upload.pk]), {"actions": list(actions)})


@pytest.fixture
def messy(acme, acme_owner):
    return dataset_upload_create(team=acme, user=acme_owner, file=uploaded("messy.csv", MESSY), name="FAQ")


def test_validate_reports_every_problem_of_a_messy_file_in_one_pass_with_lines_and_fix_buttons():
    report = validate_file(io.BytesIO(MESSY), filename="messy.csv").report
    found = issues(report)
    assert list(found) == [
        "bad_encoding", "ragged_rows", "empty_rows", "duplicate_rows", "formula_cells", "few_rows"
    ]
    encoding = found["bad_encoding"]
    assert encoding["detail"].startswith("Line 3 is not UTF-8 text, so some letters (like é or ’) cannot be read.")
    assert encoding["where"] == [{"line": 3, "note": "Café au lait?,Oui – it’s on the menu"}]  # the preview
    assert encoding["action"]["label"] == "Read it as Windows-1252"
    ragged = found["ragged_rows"]
    assert ragged["where"] == [{"line": 4, "note": "3 values"}, {"line": 6, "note": "1 value"}]
    assert ragged["action"]["label"] == "Skip these 2 rows"
    assert ragged["action"]["help"] == "Makes a fixed copy without lines 4 and 6; this upload stays as it is."
    assert found["empty_rows"]["where"] == [{"line": 5}]
    assert found["duplicate_rows"]["where"] == [{"line": 7, "note": "same as line 2"}]
    formulas = found["formula_cells"]
    assert formulas["detail"].startswith("2 cells on lines 8 and 9 start with =, +, - or @.")
    assert formulas["where"] == [
        {"line": 8, "note": "“answer”: @members get 10% off"}, {"line": 9, "note": "“answer”: =card or cash"}
    ]
    assert "Plain numbers such as -4.5 are left alone." in formulas["fix"]
    assert report["verdict"] == "unusable"


def test_reading_as_windows_1252_changes_only_the_bytes_that_are_not_utf8_and_keeps_line_numbers():
    # One line mixes UTF-8 ("Crème") and Windows-1252 ("naïve", "’"); old Mac line ends (\r) still count.
    data = "Crème,".encode() + "naïve it’s\r".encode("cp1252") + b"ok\r\n" + "\u00e9t\u00e9\n".encode("latin-1")
    seen = []

    def undecodable(number, line):
        seen.append(number)
        return read_as_cp1252(line)

    assert list(text_lines(io.BytesIO(data), "utf-8", undecodable=undecodable)) == [
        "Crème,naïve it’s\n", "ok\n", "été\n"
    ]
    assert seen == [1, 3]


def test_upload_of_a_messy_file_keeps_it_untouched_and_its_review_lists_every_problem_with_buttons(
    client, acme, acme_owner, media_root
):
    client.force_login(acme_owner)
    url = reverse("dataset_upload", args=[acme.slug])
    response = client.post(url, {"name": "FAQ", "file": uploaded("messy.csv", MESSY)})
    upload = DatasetUpload.objects.get()
    assert response.url == reverse("dataset_upload_review", args=[acme.slug, upload.pk])
    assert (media_root / upload.file.name).read_bytes() == MESSY
    html = client.get(response.url).content.decode()
    for text in (
        "Line 3 is not UTF-8 text", "<q>Café au lait?,Oui – it’s on the menu</q>", "2 rows do not have the 2 values",
        "1 row has no values at all.", "1 row repeats an earlier row exactly.", "2 cells on lines 8 and 9 start with",
    ):
        assert escape(text) in html or text in html
    assert ">Read it as Windows-1252</button>" in html
    # Until the letters can be read, the other fixes wait (each would have to guess them).
    assert ">Skip these 2 rows</button>" not in html
    assert html.count("Use “Read it as Windows-1252” first") == 4
    assert ">Apply every fix above at once</button>" in html
    assert "Map columns and save a version" not in html  # nothing to map until it can be used


def test_each_fix_button_makes_a_fixed_copy_with_exactly_the_expected_rows_and_keeps_the_original(
    client, acme, acme_owner, media_root, messy
):
    client.force_login(acme_owner)
    original = (messy.sha256, messy.report, (media_root / messy.file.name).read_bytes())

    response = fix(client, acme, messy, "read_as_windows_1252")
    decoded = DatasetUpload.objects.get(derived_from=messy)
    assert response.url == reverse("dataset_upload_review", args=[acme.slug, decoded.pk])
    assert decoded.note == "read 1 line as Windows-1252"
    assert decoded.verdict == "unusable" and list(issues(decoded.report))[:1] == ["ragged_rows"]
    assert issues(decoded.report)["ragged_rows"]["where"] == [
        {"line": 4, "note": "3 values"}, {"line": 6, "note": "1 value"}  # the same lines as in the original
    ]
    review = client.get(response.url).content.decode()
    assert ">Skip these 2 rows</button>" in review and "A fixed copy: read 1 line as Windows-1252." in review

    fix(client, acme, decoded, "skip_bad_rows")
    skipped = DatasetUpload.objects.get(derived_from=decoded)
    assert skipped.note == "read 1 line as Windows-1252; skipped 2 unreadable rows (lines 4, 6)"
    assert skipped.verdict == "warnings"
    assert rows(skipped) == [HOURS, CAFE, EMPTY, HOURS, DISCOUNTS, PAY, MUG]

    fix(client, acme, skipped, "drop_empty_rows")
    assert rows(DatasetUpload.objects.get(derived_from=skipped)) == [HOURS, CAFE, HOURS, DISCOUNTS, PAY, MUG]
    fix(client, acme, skipped, "drop_duplicates")
    no_duplicates = DatasetUpload.objects.get(derived_from=skipped, note__endswith="duplicate row")
    assert rows(no_duplicates) == [HOURS, CAFE, EMPTY, DISCOUNTS, PAY, MUG]
    fix(client, acme, skipped, "clean_formulas")
    cleaned = DatasetUpload.objects.get(derived_from=skipped, note__endswith="formula cells")
    assert rows(cleaned) == [
        HOURS, CAFE, EMPTY, HOURS, {**DISCOUNTS, "answer": "members get 10% off"},
        {**PAY, "answer": "card or cash"}, MUG,
    ]

    original_review = client.get(reverse("dataset_upload_review", args=[acme.slug, messy.pk])).content.decode()
    assert "You already made a fixed copy of this upload" in original_review
    assert reverse("dataset_upload_review", args=[acme.slug, decoded.pk]) in original_review

    messy.refresh_from_db()
    assert (messy.sha256, messy.report, (media_root / messy.file.name).read_bytes()) == original
    assert hashlib.sha256(original[2]).hexdigest() == messy.sha256
    # The list shows the newest copies, not the ones a fix was used on.
    assert {u.pk for u in dataset_upload_list_for_team(team=acme)} == set(
        DatasetUpload.objects.filter(derived_from=skipped).values_list("pk", flat=True)
    )


def test_every_fix_at_once_then_saving_makes_a_version_with_the_clean_rows_and_forgets_the_earlier_uploads(
    client, acme, acme_owner, media_root, messy, django_capture_on_commit_callbacks
):
    client.force_login(acme_owner)
    fix(client, acme, messy, "read_as_windows_1252", "skip_bad_rows", "drop_empty_rows", "drop_duplicates",
        "clean_formulas")
    fixed = DatasetUpload.objects.get(derived_from=messy)
    assert fixed.verdict == "ready" or set(issues(fixed.report)) <= {"few_rows"}
    clean = [HOURS, CAFE, {**DISCOUNTS, "answer": "members get 10% off"}, {**PAY, "answer": "card or cash"}, MUG]
    assert rows(fixed) == clean
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dataset_upload_review", args=[acme.slug, fixed.pk]),
            {"action": "save", "purpose": "qa:pairs", "shown_purpose": "qa:pairs", "map_question": "question",
             "map_answer": "answer", "validation_percent": 20, "split_seed": 42},
        )
    version = DatasetVersion.objects.get()
    assert response.url == reverse("dataset_version", args=[acme.slug, version.dataset_id, 1])
    assert rows(version) == clean
    assert version.note == (
        "Uploaded messy.csv; read 1 line as Windows-1252, skipped 2 unreadable rows (lines 4, 6), dropped 1 "
        "duplicate row, dropped 1 empty row, cleaned 2 formula cells"
    )
    assert DatasetUpload.objects.count() == 0
    assert media_files(media_root) == [version.file.name]


def test_a_fix_that_needs_the_letters_read_first_is_refused_and_stores_nothing(acme_owner, messy, media_root):
    before = state(media_root)
    with pytest.raises(ValidationError) as caught:
        dataset_upload_create_with_fixes(upload=messy, user=acme_owner, actions=["skip_bad_rows"])
    assert caught.value.messages == [
        "Line 3 is not valid UTF-8: byte 0xE9 cannot be read. The file was probably saved as Latin-1 / "
        "Windows-1252 (read that way, the line says “Café au lait?,Oui – it’s on the menu”). "
        "Choose “Read it as Windows-1252” first."
    ]
    assert state(media_root) == before


def test_a_fix_that_would_leave_no_rows_is_refused_with_the_reason_and_stores_nothing(
    client, acme, acme_owner, media_root
):
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("a.csv", b"a,b\n1\n2,3,4\n"), name="A")
    before = state(media_root)
    client.force_login(acme_owner)
    response = fix(client, acme, upload, "skip_bad_rows")
    assert response.url == reverse("dataset_upload_review", args=[acme.slug, upload.pk])
    page = client.get(response.url).content.decode()
    assert escape(
        "After this fix the file cannot be used: The file has a header row (a, b) but no rows of data below it."
    ) in page
    assert state(media_root) == before


def test_a_file_with_an_error_no_button_fixes_is_rejected_with_every_problem_and_leaves_nothing(
    acme, acme_owner, media_root
):
    with pytest.raises(DatasetFileRejected) as caught:
        dataset_upload_create(
            team=acme, user=acme_owner, file=uploaded("messy.csv", MESSY + b'Hours?,"open\n'), name="FAQ"
        )
    assert list(issues(caught.value.result.report)) == [
        "bad_encoding", "ragged_rows", "unterminated_quote", "empty_rows", "duplicate_rows", "formula_cells",
        "few_rows",
    ]
    assert state(media_root) == (0, 0, 0, [])


def test_upload_page_report_of_a_refused_file_says_which_buttons_come_after_uploading_it_again(
    client, acme, acme_owner, media_root
):
    client.force_login(acme_owner)
    response = client.post(
        reverse("dataset_upload", args=[acme.slug]),
        {"name": "FAQ", "file": uploaded("messy.csv", MESSY + b'Hours?,"open\n')},
    )
    html = response.content.decode()
    assert escape("Line 11 opens a quote (\") that is never closed") in html
    assert escape("a “Read it as Windows-1252” button here can fix this.") in html
    assert 'class="fix-form' not in html  # nothing was kept, so there is nothing to press
    assert state(media_root) == (0, 0, 0, [])


def test_skip_fix_on_json_lines_drops_only_the_lines_that_are_not_objects(acme, acme_owner):
    data = b'{"text": "one"}\n{"text": "two"\n[1]\n{"text": "three"}\n'
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded("t.jsonl", data), name="T")
    assert issues(upload.report)["invalid_json"]["action"]["label"] == "Skip these 2 lines"
    fixed = dataset_upload_create_with_fixes(upload=upload, user=acme_owner, actions=["skip_bad_rows"])
    assert rows(fixed) == [{"text": "one"}, {"text": "three"}]
    assert fixed.note == "skipped 2 unreadable rows (lines 2, 3)"


def test_formula_clean_up_on_a_version_makes_a_new_version_and_keeps_the_old_one(acme_owner, make_version):
    version = make_version(b"question,answer\nDeals?,@members get 10% off\nPay?,= card\nMug?,-4.5\n")
    assert issues(version.report)["formula_cells"]["count"] == 2
    cleaned = dataset_version_clean(version=version, user=acme_owner, actions=["clean_formulas"])
    assert rows(cleaned) == [
        {"question": "Deals?", "answer": "members get 10% off"}, {"question": "Pay?", "answer": "card"},
        {"question": "Mug?", "answer": "-4.5"},
    ]
    assert cleaned.note == "Clean-up of v1: cleaned 2 formula cells."
    assert rows(version)[0]["answer"] == "@members get 10% off"


def test_version_page_report_offers_its_clean_ups_as_buttons(client, acme, acme_owner, make_version):
    version = make_version(b"question,answer\nDeals?,@members get 10% off\nDeals?,@members get 10% off\n")
    client.force_login(acme_owner)
    html = client.get(reverse("dataset_version", args=[acme.slug, version.dataset_id, 1])).content.decode()
    action = reverse("dataset_version_clean", args=[acme.slug, version.dataset_id, 1])
    assert html.count(f'action="{action}"') == 4  # two buttons, "every fix", and the clean-up panel
    assert ">Clean formula cells</button>" in html and ">Drop duplicates</button>" in html


def test_another_team_gets_404_on_the_fix_endpoints_and_nothing_changes(
    client, acme, messy, make_team, make_version, media_root
):
    version = make_version(b"question,answer\nDeals?,@members get 10% off\n", name="Other")
    other = make_team("Globex")
    client.force_login(other.memberships.get().user)
    before = state(media_root)
    for team in (acme, other):
        assert fix(client, team, messy, "read_as_windows_1252").status_code == 404
        url = reverse("dataset_version_clean", args=[team.slug, version.dataset_id, version.number])
        assert client.post(url, {"actions": ["clean_formulas"]}).status_code == 404
    assert state(media_root) == before
