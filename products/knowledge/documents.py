"""Help-centre pages as knowledge: Markdown, HTML and PDF files → sections (title = heading path, text = body).

Each file becomes passages as a person reads it: one section per heading, titled by the path of headings
above it ("Returns › Refunds"), its text the paragraphs, lists and code under that heading. Markdown is
turned into HTML by markdown-it-py (CommonMark), so both go through one reader: the standard library's
``html.parser``, which only reads tags and text; nothing is rendered or executed. The contents of scripts,
styles, templates, embedded frames and the page's navigation and footer are dropped. PDF text comes from
``pypdf`` (pure Python), one section per page titled by the file name and page, since a PDF has no headings
to read.

The sections become an ordinary dataset version of shape “Q&A documents” (``knowledge_documents_upload``):
written as a CSV with ``title``, ``text`` and ``file`` columns and stored through the dataset services, so
the same validation, size cap and immutable versions hold as for an uploaded CSV.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

MARKDOWN = (".md", ".markdown", ".mdown")
HTML = (".html", ".htm", ".xhtml")
PDF = (".pdf",)
ACCEPTED = MARKDOWN + HTML + PDF
#: Elements whose content is never text a customer reads: code, styling, embedded things, site chrome.
SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas",
                     "head", "nav", "footer", "form", "button", "select", "textarea"})
#: Elements that end a line of text (so words of two paragraphs are never glued together).
BLOCKS = frozenset({"p", "div", "section", "article", "main", "header", "li", "ul", "ol", "dl", "dt", "dd",
                    "table", "tr", "td", "th", "blockquote", "pre", "br", "hr", "figure", "figcaption", "details",
                    "summary", "h1", "h2", "h3", "h4", "h5", "h6"})
HEADINGS = {f"h{n}": n for n in range(1, 7)}
TITLE_SEPARATOR = " › "
TITLE_CHARS = 300


@dataclass(frozen=True)
class Section:
    title: str
    text: str


class _SectionReader(HTMLParser):
    """Reads tags and text only (never renders): headings open sections, block tags end lines."""

    def __init__(self, fallback_title: str) -> None:
        super().__init__(convert_charrefs=True)
        self.fallback_title = fallback_title
        self.sections: list[Section] = []
        self.path: list[str] = []  # heading texts by level
        self.body: list[str] = []
        self.heading: list[str] | None = None
        self.heading_level = 0
        self.skipping = 0
        self.in_title = False
        self.page_title = ""

    # Parser callbacks -------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":  # read even though <head> is skipped: a title for text before any heading
            self.in_title = True
            return
        if tag in SKIPPED:
            self.skipping += 1
            return
        if self.skipping:
            return
        if tag in HEADINGS:
            self._flush()
            self.heading, self.heading_level = [], HEADINGS[tag]
        elif tag in BLOCKS:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skipping and tag in BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.in_title:
            self.in_title = False
            return
        if tag in SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
            return
        if self.skipping:
            return
        if tag in HEADINGS and self.heading is not None:
            text = " ".join("".join(self.heading).split())
            level = self.heading_level
            self.path = [*self.path[:level - 1], *[""] * max(level - 1 - len(self.path), 0), text]
            self.heading = None
        elif tag in BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.page_title += data
        elif self.skipping:
            return
        elif self.heading is not None:
            self.heading.append(data)
        else:
            self.body.append(data)

    # Sections ---------------------------------------------------------------------------------

    def _break(self) -> None:
        self.body.append("\n")

    def _flush(self) -> None:
        lines = (" ".join(line.split()) for line in "".join(self.body).split("\n"))
        text = "\n".join(line for line in lines if line)
        self.body = []
        if not text:
            return
        title = TITLE_SEPARATOR.join(part for part in self.path if part) or \
            " ".join(self.page_title.split()) or self.fallback_title
        self.sections.append(Section(title[:TITLE_CHARS], text))

    def result(self) -> list[Section]:
        self.close()
        if self.heading is not None:  # a heading never closed: read it as body text
            self.body.extend(self.heading)
            self.heading = None
        self._flush()
        return self.sections


def _readable_stem(filename: str) -> str:
    stem = PurePath(filename).stem.replace("_", " ").replace("-", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else "Document"


def sections_from_html(html: str, *, filename: str = "") -> list[Section]:
    reader = _SectionReader(_readable_stem(filename))
    reader.feed(html)
    return reader.result()


FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE | re.IGNORECASE)


def sections_from_markdown(markdown: str, *, filename: str = "") -> list[Section]:
    from markdown_it import MarkdownIt

    # Front matter (a static-site generator's "---\ntitle: …\n---" header) is not text to answer from; its
    # title names the text before the first heading.
    fallback = _readable_stem(filename)
    if front := FRONT_MATTER.match(markdown):
        if title := FRONT_MATTER_TITLE.search(front.group(1)):
            fallback = title.group(1).strip("'\"") or fallback
        markdown = markdown[front.end():]
    # CommonMark to HTML as a string, read by the same reader: raw HTML inside the Markdown is read, not kept.
    reader = _SectionReader(fallback)
    reader.feed(MarkdownIt("commonmark").render(markdown))
    return reader.result()


def sections_from_pdf(data: bytes, *, filename: str = "") -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError({"files": f"{filename} could not be read as a PDF ({exc}). Save it again as a PDF "
                                        "(File › Export as PDF), or upload the text as Markdown or HTML."}) from None
    name = _readable_stem(filename)
    sections = []
    for number, text in enumerate(pages, 1):
        lines = (" ".join(line.split()) for line in text.split("\n"))
        body = "\n".join(line for line in lines if line)
        if body:
            sections.append(Section(f"{name}{TITLE_SEPARATOR}page {number}", body))
    return sections


def _decode(data: bytes, *, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"files": f"{filename} is not UTF-8 text. Save it as UTF-8 (most editors: Save As › "
                                        "Encoding › UTF-8) and upload it again."}) from None


def sections_from_file(*, filename: str, data: bytes) -> list[Section]:
    """A file's sections, or ValidationError (key ``files``) naming the file and what to do."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in PDF:
        sections = sections_from_pdf(data, filename=filename)
        if not sections:
            raise ValidationError({"files": f"{filename} has no text to read (a scanned PDF is pictures of pages). "
                                            "Export the text from the program that made it, or use OCR first."})
        return sections
    if suffix in MARKDOWN:
        sections = sections_from_markdown(_decode(data, filename=filename), filename=filename)
    elif suffix in HTML:
        sections = sections_from_html(_decode(data, filename=filename), filename=filename)
    else:
        raise ValidationError({"files": (
            f"{filename} is not a Markdown (.md), HTML (.html) or PDF (.pdf) file. Upload CSV, JSONL or TXT files "
            "on the Datasets page instead."
        )})
    if not sections:
        raise ValidationError({"files": f"{filename} has no text under its headings (only markup, scripts or "
                                        "styles). Check you chose the page itself, not a template."})
    return sections


def documents_csv(files: list[tuple[str, bytes]]) -> tuple[bytes, int]:
    """(the sections of every file as CSV: title, text, file), the number of sections."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["title", "text", "file"])
    count = 0
    for filename, data in files:
        for section in sections_from_file(filename=filename, data=data):
            writer.writerow([section.title, section.text, PurePath(filename).name])
            count += 1
    return out.getvalue().encode("utf-8"), count


@transaction.atomic
def knowledge_documents_upload(*, team, user, files: list[Any], name: str, product=None):
    """Markdown, HTML or PDF pages → a new dataset version of Q&A documents (one row per section).

    With ``product``, the draft then answers from it (through ``product_knowledge_update``, which queues its
    reading). Nothing is stored when any file cannot be read: the message names the file.
    """
    from products.datasets.services import dataset_upload_create, dataset_version_create, upload_too_large_message

    if not files:
        raise ValidationError({"files": "Choose one or more Markdown, HTML or PDF files."})
    read: list[tuple[str, bytes]] = []
    for file in files:
        filename = PurePath(getattr(file, "name", "") or "document").name
        if (getattr(file, "size", 0) or 0) > settings.MAX_UPLOAD_BYTES:
            raise ValidationError({"files": f"{filename}: {upload_too_large_message(file.size)}"})
        read.append((filename, file.read()))
    data, _ = documents_csv(read)
    upload = dataset_upload_create(team=team, user=user, name=name, keep_fixable=False,
                                   file=SimpleUploadedFile("documents.csv", data, content_type="text/csv"))
    version = dataset_version_create(source=upload, user=user, kind="qa", shape="documents",
                                     column_mapping={"document": ["text"], "title": ["title"]},
                                     validation_fraction=0)
    if product is not None:
        from products.services import product_knowledge_update

        product_knowledge_update(product=product, knowledge_version=version, kind_config={})
    return version
