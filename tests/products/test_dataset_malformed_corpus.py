"""Malformed files: each gets its own message with the line and the fix, and leaves nothing behind."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse
from django.utils.html import escape

from products.datasets.services import DatasetFileRejected, dataset_upload_create
from tests.products.conftest import state, uploaded

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024

# (id, file name, bytes, issue code, exact detail, where)
CORPUS = [
    (
        "binary-junk", "data.csv", random.Random(0).randbytes(4096), "binary",
        "This file contains binary data (unreadable control bytes), so it is not a CSV, JSONL or text file.", [],
    ),
    (
        "utf16-without-bom", "data.csv", "question,answer\nHours?,9 to 5\n".encode("utf-16-le"), "utf16_without_bom",
        "This file looks like UTF-16 (little-endian) text without the byte-order mark that says so, "
        "so it cannot be read reliably.", [],
    ),
    (
        "nul-bytes", "data.csv", b"question,answer\nHours?,9 to\x005\nShip?,Yes\n", "nul_byte",
        "Line 2 contains a NUL byte (an invisible \\0 character), which usually means the file is damaged "
        "or was exported in a binary format.", [{"line": 2}],
    ),
    (
        "unterminated-quote", "data.csv", b'question,answer\nHours?,"9 to 5\nShip?,Yes\n', "unterminated_quote",
        'Line 2 opens a quote (") that is never closed, so everything after it would become one value.',
        [{"line": 2}],
    ),
    (
        "10mb-single-line", "data.csv", b"x" * TEN_MB, "line_too_long",
        "Line 1 is longer than 1,000,000 characters.", [{"line": 1}],
    ),
    ("empty-file", "data.csv", b"", "empty_file", "The file is empty (0 bytes).", []),
    (
        "header-only", "data.csv", b"question,answer\n", "no_rows",
        "The file has a header row (question, answer) but no rows of data below it.", [],
    ),
    (
        "excel-workbook", "data.xlsx", b"PK\x03\x04rest-of-a-zip", "spreadsheet",
        "This is a spreadsheet workbook (.xlsx); we read the text formats spreadsheets export.", [],
    ),
    (
        "zip-renamed-csv", "data.csv", b"PK\x03\x04" + bytes(200), "binary",
        "This file is a ZIP archive (an Excel, Numbers or Word document is one), not a text file.", [],
    ),
    (
        "json-array", "faq.json", b'[{"question": "Hours?", "answer": "9 to 5"}]', "json_array",
        "This file is a single JSON array; we read JSON Lines: one JSON object per line.", [],
    ),
    (
        "duplicate-column-names", "data.csv", b"question,answer,question\na,b,c\n", "duplicate_columns",
        "The header has “question” more than once (columns 1, 3).", [{"line": 1}],
    ),
    (
        "text-after-closing-quote", "data.csv", b'name,desc\nTV,"5" screen"\n', "stray_quote",
        'Line 2 has text right after a closing quote, like "5" screen".', [{"line": 2}],
    ),
    (
        "blank-lines-only", "data.csv", b"\n\n   \n", "empty_file", "The file contains only blank lines or spaces.", [],
    ),
]
IDS = [case[0] for case in CORPUS]
# Files whose only errors a fix button can fix: kept, with their report, so the buttons can be used.
FIXABLE = [
    (
        "ragged-rows", "data.csv", b"question,answer\nHours?,9 to 5\nShip?,Yes,to the EU\nReturns?\n", "ragged_rows",
        "2 rows do not have the 2 values the header has.",
        [{"line": 3, "note": "3 values"}, {"line": 4, "note": "1 value"}],
    ),
    (
        "jsonl-one-bad-line", "faq.jsonl",
        b'{"question": "Hours?", "answer": "9 to 5"}\n{"question": "Ship?" "answer": "Yes"}\n'
        b'{"question": "Returns?", "answer": "30 days"}\n',
        "invalid_json", "1 line is not a valid JSON object.",
        [{"line": 2, "note": "Expecting ',' delimiter (column 22)"}],
    ),
    (
        "latin-1", "data.csv", "question,answer\nCafé?,Oui\n".encode("latin-1"), "bad_encoding",
        "Line 2 is not UTF-8 text, so some letters (like é or ’) cannot be read. The file was probably saved as "
        "Latin-1 / Windows-1252, the default of older Excel and Windows apps.", [{"line": 2, "note": "Café?,Oui"}],
    ),
]


@pytest.mark.parametrize(("case", "filename", "data", "code", "detail", "where"), CORPUS, ids=IDS)
def test_upload_service_rejects_malformed_file_with_a_specific_message_and_stores_nothing(
    acme, acme_owner, media_root, case, filename, data, code, detail, where
):
    before = state(media_root)
    with pytest.raises(DatasetFileRejected) as caught:
        dataset_upload_create(team=acme, user=acme_owner, file=uploaded(filename, data), name="FAQ")
    report = caught.value.result.report
    assert report["verdict"] == "unusable"
    errors = [issue for issue in report["issues"] if issue["severity"] == "error"]
    assert [(e["code"], e["detail"], e["where"]) for e in errors] == [(code, detail, where)]
    assert errors[0]["fix"]  # every error says how to fix it
    assert caught.value.messages == [f"{detail} {errors[0]['fix']}"]
    assert state(media_root) == before


@pytest.mark.parametrize(("case", "filename", "data", "code", "detail", "where"), CORPUS, ids=IDS)
def test_upload_page_shows_the_report_for_a_malformed_file_and_keeps_db_and_media_unchanged(
    client, acme, acme_owner, media_root, case, filename, data, code, detail, where
):
    client.force_login(acme_owner)
    before = state(media_root)
    response = client.post(
        reverse("dataset_upload", args=[acme.slug]), {"name": "FAQ", "file": uploaded(filename, data)}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cannot be used" in html
    assert escape(detail) in html
    assert "How to fix:" in html
    assert state(media_root) == before


def test_upload_with_every_data_row_empty_is_rejected(acme, acme_owner, media_root):
    with pytest.raises(DatasetFileRejected) as caught:
        dataset_upload_create(
            team=acme, user=acme_owner, file=uploaded("data.csv", b"question,answer\n,\n , \n"), name="FAQ"
        )
    assert caught.value.result.errors[0]["detail"] == "Every row in the file is empty."
    assert state(media_root) == (0, 0, 0, [])


@pytest.mark.parametrize(
    ("case", "filename", "data", "code", "detail", "where"), FIXABLE, ids=[case[0] for case in FIXABLE]
)
def test_upload_service_keeps_a_file_whose_errors_a_button_fixes_with_its_report(
    acme, acme_owner, media_root, case, filename, data, code, detail, where
):
    upload = dataset_upload_create(team=acme, user=acme_owner, file=uploaded(filename, data), name="FAQ")
    errors = [issue for issue in upload.report["issues"] if issue["severity"] == "error"]
    assert [(e["code"], e["detail"], e["where"]) for e in errors] == [(code, detail, where)]
    assert errors[0]["action"]["label"]  # the button that fixes it
    assert upload.verdict == "unusable"
    assert (media_root / upload.file.name).read_bytes() == data  # stored exactly as sent
    assert state(media_root)[:3] == (0, 1, 0)
