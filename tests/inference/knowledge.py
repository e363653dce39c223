"""Helpers for the knowledge-base tests: Q&A dataset versions of a team, built into indexes by the real worker."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from inference.knowledge.worker import IndexBuildWorker
from inference.models import KnowledgeIndex
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.knowledge.services import knowledge_index_request

SAMPLES = Path(__file__).resolve().parents[2] / "products" / "datasets" / "samples"

#: A small help centre: one article per row, with a title. "Express" means three different things on purpose,
#: so a follow-up ("and how much is express?") needs the conversation to find the right one.
HELP_CENTRE = [
    ("Shipping costs", "Shipping is free on orders over 50 €. Below that, standard delivery costs 4.95 € and "
                       "express delivery costs 9.95 €. Express orders placed before 14:00 arrive the next "
                       "working day."),
    ("Returns and refunds", "You can return any unused item within 30 days of delivery for a full refund. Print the "
                            "free return label from the Orders page and drop the parcel at any post office."),
    ("Express checkout", "Express checkout lets you pay in one click with Apple Pay or Google Pay. It is free to use "
                         "and remembers your address."),
    ("Repair service", "Our workshop repairs kettles, grinders and coffee machines. A standard repair takes two "
                       "weeks; the express repair takes three days and costs 25 € extra."),
    ("Opening hours", "Customer service answers chats and emails Monday to Friday, 9:00 to 18:00, and Saturday "
                      "10:00 to 14:00. The online shop is open day and night."),
    ("Caring for linen", "Wash linen bedding at 40 °C with a mild detergent. Skip fabric softener and tumble dry "
                         "on low. Linen gets softer with every wash."),
    ("Gift cards", "Digital gift cards from 10 € to 500 € are sent by email at once and stay valid for three years."),
]


def csv_bytes(header: list[str], rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def knowledge_version(team, owner, *, data: bytes | None = None, shape: str = "documents", name: str = "Help centre",
                      mapping: dict | None = None, filename: str = "help.csv"):
    """A saved Q&A dataset version of ``team`` (documents: title + text columns by default)."""
    if data is None:
        data = csv_bytes(["title", "text"], HELP_CENTRE)
    upload = dataset_upload_create(team=team, user=owner, name=name,
                                   file=SimpleUploadedFile(filename, data, content_type="text/csv"))
    default = {"document": ["text"], "title": ["title"]} if shape == "documents" else \
        {"question": ["question"], "answer": ["answer"]}
    return dataset_version_create(source=upload, user=owner, kind="qa", shape=shape,
                                  column_mapping=mapping or default, validation_fraction=0)


def store_faq_version(team, owner):
    return knowledge_version(team, owner, data=(SAMPLES / "store_faq.csv").read_bytes(), shape="pairs",
                             name="Store FAQ", filename="store_faq.csv")


def built_index(version) -> KnowledgeIndex:
    """The version's index, built now by a real index worker in this process."""
    index = knowledge_index_request(dataset_version=version)
    IndexBuildWorker(poll_seconds=1).run_once()
    index.refresh_from_db()
    return index


#: Test questions on store_faq.csv for the Evaluation tab: paraphrases (none copies the FAQ's wording) with the
#: FAQ question (a passage title), a piece of its answer or its row ("row 14") as expected text, one question
#: the FAQ does not answer though the set says it should (a miss), and off-topic questions marked "no".
STORE_FAQ_TESTS = [
    ("What time does your customer service open on Saturdays?", "What are your opening hours?", ""),
    ("What do I pay for delivery?", "How much does shipping cost?", ""),
    ("Can you send orders to Norway?", "Do you ship internationally?", "yes"),
    ("Where do I find the tracking number of my package?", "How can I track my order?", ""),
    ("Is sending a return back to you free of charge?", "are returns free", "yes"),
    ("Can I use PayPal?", "We accept Visa", ""),
    ("Can you wrap my order as a present?", "row 14", ""),  # the FAQ's 14th row: "Do you offer gift wrapping?"
    ("Does the skillet work on an induction hob?", "Is the cast iron skillet suitable for induction?", "Yes"),
    ("Is there a shop I can visit in person?", "Do you have a physical store?", ""),
    ("Do you sell electric bicycles?", "We sell e-bikes from three brands", "yes"),
    ("Who won the football world cup in 2014?", "", "no"),
    ("What is the capital of Australia?", "", "no"),
    ("How do I solve a quadratic equation?", "", "No"),
    ("Who painted the Mona Lisa?", "", "no"),
]


def store_faq_tests_version(team, owner, *, rows=None, name: str = "FAQ test questions"):
    """The test questions above (or ``rows``) as a version mapped as Q&A test questions."""
    return knowledge_version(
        team, owner, data=csv_bytes(["question", "expected", "should answer"], rows or STORE_FAQ_TESTS),
        shape="tests", name=name, filename="tests.csv",
        mapping={"question": ["question"], "expected": ["expected"], "should_answer": ["should answer"]})
