"""Q&A / customer-service assistants (planned): for now, the dataset layouts they will use.

Knowledge bases and question → answer pairs can already be uploaded and checked; answering from
them arrives with the Q&A issue, which fills in templates, ``prepare`` and the answer runner.
"""

from __future__ import annotations

from typing import Any

from inference.protocol import Task
from products.datasets.shapes import Block, Need, Shape
from products.kinds.base import ProductKind
from products.kinds.registry import register

SYSTEM = "You answer customers' questions helpfully, accurately and briefly."


def _render_pair(example: dict[str, Any]) -> list[Block]:
    return [Block("System", SYSTEM), Block("User", example["question"]), Block("Assistant", example["answer"], True)]


def _render_document(example: dict[str, Any]) -> list[Block]:
    title = example.get("title")
    return [Block(f"Passage: {title}" if title else "Passage", example["document"])]


@register
class QuestionAnswering(ProductKind):
    id = "qa"
    name = "Q&A assistant"
    description = "Answers customers' questions from your own documents, with sources, and says when it does not know."
    task = Task.ANSWER
    status = "planned"
    dataset_shapes = (
        Shape(
            "qa", "pairs", "Q&A: question → answer",
            "Each row is a question a customer asked and the answer you want given.",
            (
                Need("question", "Question", "What the customer asks.",
                     synonyms=("question", "questions", "q", "query", "prompt", "ask")),
                Need("answer", "Answer", "The answer the model learns to give.",
                     synonyms=("answer", "answers", "a", "response", "reply")),
            ),
            _render_pair,
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
    )
