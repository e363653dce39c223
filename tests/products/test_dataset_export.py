"""Downloads: attachments with a server-chosen type and name, and CSV that never carries a live formula."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from products.datasets.export import FORMULA_STARTS, csv_export, neutralise

CELLS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
pytestmark = pytest.mark.django_db

FORMULA_CELLS = st.builds(lambda start, rest: start + rest, st.sampled_from(FORMULA_STARTS), CELLS)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "＝1+1"])
def test_neutralise_prefixes_a_formula_start_with_a_quote(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["", "hello", " =1", "'=1", "1-1", "a@b.c"])
def test_neutralise_leaves_other_text_alone(value):
    assert neutralise(value) == value


def parse_export(rows: list[dict], columns: list[str]) -> list[list[str]]:
    text = b"".join(csv_export(rows, columns)).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


@settings(max_examples=300, deadline=None)
@given(
    columns=st.lists(st.one_of(CELLS, FORMULA_CELLS), min_size=1, max_size=4, unique=True),
    data=st.data(),
)
def test_csv_export_never_emits_a_live_formula_and_keeps_all_other_text(columns, data):
    rows = data.draw(st.lists(st.fixed_dictionaries({c: st.one_of(CELLS, FORMULA_CELLS) for c in columns}), max_size=5))
    parsed = parse_export(rows, columns)
    originals = [columns] + [[row[c] for c in columns] for row in rows]
    assert len(parsed) == len(originals)
    for cells, expected in zip(parsed, originals, strict=True):
        for cell, original in zip(cells, expected, strict=True):
            assert not cell.startswith(FORMULA_STARTS)
            assert cell == ("'" + original if original.startswith(FORMULA_STARTS) else original)



def test_download_csv_is_an_attachment_with_formulas_neutralised(client, acme, acme_owner, make_version):
    version = make_version(b"question,answer\n=HYPERLINK(\"http://evil\"),@SUM(1)\nHours?,-5 degrees\n",
                           name="Store FAQ")
    client.force_login(acme_owner)
    response = client.get(reverse("dataset_version_download", args=[acme.slug, version.dataset_id, 1]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="store-faq-v1.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    body = b"".join(response.streaming_content).decode()
    assert body == (
        "\ufeffquestion,answer\r\n"
        "\"'=HYPERLINK(\"\"http://evil\"\")\",'@SUM(1)\r\n"
        "Hours?,'-5 degrees\r\n"
    )


def test_download_jsonl_of_the_validation_split_only(client, acme, acme_owner, make_version):
    data = ("question,answer\n" + "".join(f"Q{i},A{i}\n" for i in range(10))).encode()
    version = make_version(data, fraction=0.3)
    client.force_login(acme_owner)
    response = client.get(
        reverse("dataset_version_download", args=[acme.slug, version.dataset_id, 1]),
        {"format": "jsonl", "split": "validation"},
    )
    assert response["Content-Disposition"] == 'attachment; filename="faq-v1-validation.jsonl"'
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert len(rows) == 3 and all(set(row) == {"question", "answer"} for row in rows)


@pytest.mark.parametrize("query", [{"format": "xlsx"}, {"split": "test"}])
def test_download_with_an_unknown_format_or_split_is_404(client, acme, acme_owner, make_version, query):
    version = make_version()
    client.force_login(acme_owner)
    response = client.get(reverse("dataset_version_download", args=[acme.slug, version.dataset_id, 1]), query)
    assert response.status_code == 404
