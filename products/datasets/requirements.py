"""What each product kind needs from a dataset: the canonical fields, and how one example reads.

Kept here, keyed by kind id, so datasets do not depend on the kinds registry. A kind may accept
several layouts ("shapes"): Q&A learns from question → answer pairs or answers from documents;
recommendations need a catalog of items and a log of interactions (two datasets).

An example maps canonical field names to values: a single field gives a string, a ``multiple``
field gives ``{column: value}`` in column order (copywriting inputs, catalog text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Need:
    """One canonical field of a kind's example and the column names that usually hold it."""

    name: str
    label: str
    help: str
    required: bool = True
    multiple: bool = False
    #: Guess all columns left over after the other fields are matched (copywriting inputs).
    takes_rest: bool = False
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    """A piece of a rendered example: who or what it is, and its text."""

    label: str
    text: str
    learnt: bool = False  # the part the model learns to produce


@dataclass(frozen=True)
class Shape:
    kind: str
    id: str
    label: str
    description: str
    needs: tuple[Need, ...]
    render: Callable[[dict[str, Any]], list[Block]]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def need(self, name: str) -> Need:
        return next(need for need in self.needs if need.name == name)


def _facts(values: dict[str, str]) -> str:
    return "\n".join(f"{column}: {value}" for column, value in values.items())


COPY_SYSTEM = "You are an expert marketing copywriter. Write clear, vivid, honest copy. Reply with the copy only."
QA_SYSTEM = "You answer customers' questions helpfully, accurately and briefly."
CLASSIFY_SYSTEM = "Sort the message into one category. Reply with the category only."


def _render_copy(example: dict[str, Any]) -> list[Block]:
    return [
        Block("System", COPY_SYSTEM),
        Block("User", "Write marketing copy from these facts:\n" + _facts(example["inputs"])),
        Block("Assistant", example["output"], learnt=True),
    ]


def _render_qa(example: dict[str, Any]) -> list[Block]:
    return [Block("System", QA_SYSTEM), Block("User", example["question"]), Block("Assistant", example["answer"], True)]


def _render_document(example: dict[str, Any]) -> list[Block]:
    title = example.get("title")
    return [Block(f"Passage: {title}" if title else "Passage", example["document"])]


def _render_classification(example: dict[str, Any]) -> list[Block]:
    return [
        Block("System", CLASSIFY_SYSTEM), Block("User", example["text"]), Block("Assistant", example["label"], True)
    ]


def _render_catalog(example: dict[str, Any]) -> list[Block]:
    title = example.get("title")
    return [Block(f"Item {example['item']}" + (f": {title}" if title else ""), _facts(example["text"]))]


def _render_interaction(example: dict[str, Any]) -> list[Block]:
    text = f"User {example['user']} → item {example['item']}"
    if example.get("rating"):
        text += f", rating {example['rating']}"
    if example.get("timestamp"):
        text += f", at {example['timestamp']}"
    return [Block("Interaction", text)]


SHAPES: tuple[Shape, ...] = (
    Shape(
        "copywriting", "examples", "Marketing copy: facts → finished copy",
        "Each row is one piece of finished copy and the facts it was written from.",
        (
            Need("inputs", "Facts (inputs)", "The columns the copy was written from, e.g. name and features.",
                 multiple=True, takes_rest=True),
            Need("output", "Finished copy (output)", "The text the model learns to write.",
                 synonyms=("description", "output", "copy", "completion", "response", "text", "body", "content")),
        ),
        _render_copy,
    ),
    Shape(
        "qa", "pairs", "Q&A: question → answer",
        "Each row is a question a customer asked and the answer you want given.",
        (
            Need("question", "Question", "What the customer asks.",
                 synonyms=("question", "questions", "q", "query", "prompt", "ask")),
            Need("answer", "Answer", "The answer the model learns to give.",
                 synonyms=("answer", "answers", "a", "response", "reply")),
        ),
        _render_qa,
    ),
    Shape(
        "qa", "documents", "Q&A: documents to answer from",
        "Each row is a passage (a help article, a policy) the assistant can quote when it answers.",
        (
            Need("document", "Passage text", "The text to answer from.",
                 synonyms=("document", "text", "content", "body", "passage", "article", "doc")),
            Need("title", "Title", "Optional: a title or heading for the passage.", required=False,
                 synonyms=("title", "heading", "name", "subject")),
        ),
        _render_document,
    ),
    Shape(
        "classification", "labelled", "Classification: text → label",
        "Each row is a message and the category it belongs to.",
        (
            Need("text", "Text", "The message to sort.",
                 synonyms=("text", "message", "content", "body", "sentence", "review", "ticket", "comment")),
            Need("label", "Label", "The category the model learns to choose.",
                 synonyms=("label", "category", "class", "intent", "tag", "topic", "sentiment", "type")),
        ),
        _render_classification,
    ),
    Shape(
        "recommendation", "catalog", "Recommendations: catalog of items",
        "Each row is one item you can recommend, with the text that describes it.",
        (
            Need("item", "Item id", "A unique id for the item, e.g. SKU.",
                 synonyms=("item", "itemid", "id", "sku", "productid", "product")),
            Need("title", "Item name", "Optional: the item's name, shown in recommendations.", required=False,
                 synonyms=("title", "name")),
            Need("text", "Item text", "The columns that describe the item.", multiple=True, takes_rest=True),
        ),
        _render_catalog,
    ),
    Shape(
        "recommendation", "interactions", "Recommendations: interactions",
        "Each row says a user bought, viewed or rated an item.",
        (
            Need("user", "User", "Who interacted.", synonyms=("user", "userid", "customer", "customerid", "visitor")),
            Need("item", "Item", "What they interacted with.",
                 synonyms=("item", "itemid", "product", "productid", "sku")),
            Need("rating", "Rating", "Optional: how much they liked it.", required=False,
                 synonyms=("rating", "score", "stars")),
            Need("timestamp", "Time", "Optional: when it happened.", required=False,
                 synonyms=("timestamp", "time", "date", "datetime", "createdat")),
        ),
        _render_interaction,
    ),
)
KIND_LABELS = {
    "copywriting": "Marketing copy",
    "qa": "Q&A assistant",
    "classification": "Classification",
    "recommendation": "Recommendations",
}


def shape_get(kind: str, shape: str) -> Shape:
    for candidate in SHAPES:
        if candidate.kind == kind and candidate.id == shape:
            return candidate
    raise ValidationError(
        {"purpose": f"Unknown dataset use {kind}:{shape}. Choose one of: {', '.join(s.key for s in SHAPES)}."}
    )


def shapes_for(kind: str) -> list[Shape]:
    return [shape for shape in SHAPES if shape.kind == kind]


def purpose_choices() -> list[tuple[str, str]]:
    return [(shape.key, shape.label) for shape in SHAPES]
