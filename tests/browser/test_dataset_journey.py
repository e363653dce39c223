"""An admin drops a CSV on the upload page, reads the doctor's report, maps columns and saves a version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from products.models import DatasetVersion

pytestmark = pytest.mark.browser

FAQ = (
    "customer_asked,internal_note,reply\n"
    "What are your opening hours?,asked daily,We are open 9:00 to 18:00 on weekdays.\n"
    "Do you ship abroad?,,\"Yes, to the EU, the UK and Norway.\"\n"
    "Can I return an item?,policy,Within 30 days of delivery.\n"
    "Do you ship abroad?,,\"Yes, to the EU, the UK and Norway.\"\n"
    "How do I track my order?,,Use the link in your shipping email.\n"
    "Any discounts?,,@members get 10% off.\n"
)


def test_admin_uploads_reads_the_report_maps_columns_and_saves_a_version(
    live_media_root, live_server_url, logged_in_page, make_user, make_team
):
    owner = make_user("ada@example.com")
    team = make_team("Ada's Shop", owner=owner)
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/datasets/")
    expect(page.get_by_text("No datasets yet")).to_be_visible()
    page.get_by_role("link", name="Upload a dataset").first.click()
    page.get_by_label("Dataset name").fill("Store FAQ")

    # Drag and drop, as a person would: a drop event carrying the file onto the drop zone.
    transfer = page.evaluate_handle(
        "(text) => { const t = new DataTransfer(); t.items.add(new File([text], 'faq.csv', {type: 'text/csv'}));"
        " return t; }",
        FAQ,
    )
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})
    expect(page.get_by_text("faq.csv · 0.0 MB")).to_be_visible()
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_role("heading", name="Check faq.csv")).to_be_visible()
    expect(page.get_by_text("Ready with warnings")).to_be_visible()
    expect(page.get_by_text("1 row repeats an earlier row exactly.")).to_be_visible()
    expect(page.get_by_text("Line 5 (same as line 3)")).to_be_visible()
    expect(page.get_by_text("“internal_note” is empty on 4 of 6 rows.")).to_be_visible()

    expect(page.get_by_label("What is this dataset for?")).to_have_value("qa:pairs")
    expect(page.get_by_label("Answer")).to_have_value("reply")
    page.get_by_label("Question").select_option("customer_asked")
    first_example = page.get_by_role("article", name="Example 1")
    expect(first_example).to_contain_text("What are your opening hours?")
    expect(first_example).to_contain_text("We are open 9:00 to 18:00 on weekdays.")

    page.get_by_label("Hold out for validation (%)").fill("20")
    page.get_by_label("Hold out for validation (%)").press("Tab")
    expect(page.get_by_label("Hold out for validation (%)")).to_have_value("20")
    page.get_by_role("button", name="Save version").click()

    expect(page).to_have_url(re.compile(rf"/t/{team.slug}/datasets/\d+/v1/$"))
    expect(page.get_by_text("Saved Store FAQ v1.")).to_be_visible()
    expect(page.get_by_text("6: 5 to train on, 1 held out for validation (20 %, seed 42)")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "store-faq-v1.csv"
    exported = Path(download.value.path()).read_bytes().decode("utf-8")
    assert exported.startswith("\ufeffcustomer_asked,internal_note,reply\r\n")
    assert exported.endswith("Any discounts?,,'@members get 10% off.\r\n")  # neutralised, never a formula

    version = DatasetVersion.objects.get()
    assert (version.dataset.name, version.kind, version.shape) == ("Store FAQ", "qa", "pairs")
    assert version.column_mapping == {"question": ["customer_asked"], "answer": ["reply"]}
    assert (version.row_count, version.validation_count, version.verdict) == (6, 1, "warnings")
    assert (live_media_root / version.file.name).read_text() == FAQ


MESSY = (
    b"question,answer\n"
    b"What are your opening hours?,We open at 9.\n"
    + "Café au lait?,Oui – it’s on the menu\n".encode("cp1252")
    + b"Do you ship abroad?,Yes,to the EU\n"
    b",\n"
    b"Returns?\n"
    b"What are your opening hours?,We open at 9.\n"
    b"Any discounts?,@members get 10% off\n"
)


def test_admin_fixes_a_messy_file_from_one_report_without_uploading_it_again(
    live_media_root, live_server_url, logged_in_page, make_user, make_team
):
    owner = make_user("grace@example.com")
    team = make_team("Grace's Café", owner=owner)
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/datasets/upload/")
    page.get_by_label("Dataset name").fill("Café FAQ")
    page.locator("input[type=file]").set_input_files({"name": "messy.csv", "mimeType": "text/csv", "buffer": MESSY})
    page.get_by_role("button", name="Upload and check").click()

    # One report names every problem, with its lines.
    expect(page.get_by_role("heading", name="Check messy.csv")).to_be_visible()
    expect(page.get_by_text("Cannot be used", exact=True)).to_be_visible()
    expect(page.get_by_text("Line 3 is not UTF-8 text")).to_be_visible()
    expect(page.locator(".fix-preview")).to_contain_text("Line 3: Café au lait?,Oui – it’s on the menu")
    expect(page.get_by_text("2 rows do not have the 2 values the header has.")).to_be_visible()
    expect(page.get_by_text("1 row has no values at all.")).to_be_visible()
    expect(page.get_by_text("1 row repeats an earlier row exactly.")).to_be_visible()
    expect(page.get_by_text("1 cell on line 8 starts with =, +, - or @.", exact=False)).to_be_visible()

    page.get_by_role("button", name="Read it as Windows-1252").click()
    expect(page.get_by_test_id("fixed-copy")).to_contain_text("A fixed copy: read 1 line as Windows-1252.")
    expect(page.get_by_text("Makes a fixed copy without lines 4 and 6; this upload stays as it is.")).to_be_visible()

    page.get_by_role("button", name=re.compile(r"^Skip these 2 rows$")).click()
    expect(page.get_by_text("Ready with warnings")).to_be_visible()
    expect(page.get_by_test_id("fixed-copy")).to_contain_text("skipped 2 unreadable rows (lines 4, 6)")
    page.get_by_role("button", name="Save version").click()

    expect(page).to_have_url(re.compile(rf"/t/{team.slug}/datasets/\d+/v1/$"))
    version = DatasetVersion.objects.get()
    assert version.row_count == 5  # the two ragged rows are gone; the empty row and duplicate stay until dropped
    stored = (live_media_root / version.file.name).read_text(encoding="utf-8")
    assert "Café au lait?,Oui – it’s on the menu" in stored and "Returns?" not in stored
