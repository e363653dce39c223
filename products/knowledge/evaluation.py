"""Evaluating a Q&A assistant's retrieval on test questions: what a test set is, checking one, queueing the job.

Rows only: the evaluation worker (inference/knowledge/evaluation.py, a thread of the index worker) retrieves
and scores. A test set is a dataset version of shape “Q&A: test questions”: a question, the expected answer
or passage (its title or its text), an optional yes/no “should answer” column (“no” marks a question the
documents cannot answer, which needs no expected text) and optional “earlier turns”: the questions asked
before a follow-up, one per line, which retrieval reads with it as the answer runner reads a chat's turns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from inference.models import KnowledgeEvaluation
from inference.selectors import knowledge_index_for
from products.kinds import get_kind
from products.kinds.qa import NO_KNOWLEDGE, NOT_REQUESTED, TEST_QUESTIONS_SHAPE
from products.models import DatasetVersion, Product, ProductVersion, Verdict
from products.models.product import ProductConfig

#: The most test questions one evaluation reads (a few minutes of retrieval on the index worker).
MAX_TEST_QUESTIONS = 2000
YES = frozenset({"yes", "y", "true", "1", "answer", "answerable"})
NO = frozenset({"no", "n", "false", "0", "no answer", "unanswerable", "should not answer"})
STILL_READING = "Still reading your documents ({percent} %). Evaluate once they are read."
NOT_READY_FAILED = "Reading your documents failed: {error} Pick another dataset version on the Knowledge tab."


@dataclass(frozen=True)
class TestQuestion:
    row: int  # 1-based data row of the test file
    question: str
    expected: str
    should_answer: bool
    earlier: tuple[str, ...] = ()  # the user's earlier turns, oldest first: a follow-up question when any


def _normal(text: str) -> str:
    """Case, accents kept, punctuation and spacing ignored: "Free  shipping!" matches "free shipping"."""
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


#: "row 14" (or "#14") as the expected text names the data row of the knowledge file the passage comes from.
ROW_REFERENCE = re.compile(r"^\s*(?:row\s*|#\s*)(\d{1,9})\s*$", re.IGNORECASE)


def passage_matches(expected: str, *, title: str, text: str, source_row: int | None = None) -> bool:
    """The rule the report states: a retrieved passage is the expected one when the expected text is "row N"
    and the passage comes from data row N of the knowledge file, or when its title is the expected text, its
    text contains the expected text, or its text is part of the expected text (a long expected passage split
    into several chunks). Case, punctuation and spacing are ignored."""
    row = ROW_REFERENCE.match(expected)
    if row is not None:
        return source_row is not None and source_row == int(row.group(1))
    want, got_title, got_text = _normal(expected), _normal(title), _normal(text)
    if not want:
        return False
    return want == got_title or want in got_text or (len(got_text) >= 20 and got_text in want)


def should_answer_value(raw: str, *, row: int) -> bool:
    value = " ".join(raw.casefold().replace("’", "'").split())
    if not value or value in YES:
        return True
    if value in NO:
        return False
    raise ValidationError({"test_version": (
        f"Row {row}: “{raw}” in the should-answer column is not yes or no. Write “no” on questions your documents "
        "cannot answer and “yes” (or nothing) on the others."
    )})


def test_questions(version: DatasetVersion) -> Iterator[TestQuestion]:
    """The version's test questions, streamed; ValidationError names the first row that cannot be one."""
    from products.datasets.mapping import example_from_row
    from products.datasets.requirements import shape_get
    from products.datasets.selectors import stored_rows

    shape = shape_get(version.kind, version.shape)
    for number, (_, row) in enumerate(stored_rows(version), 1):
        example = example_from_row(row, shape=shape, mapping=version.column_mapping)
        if example is None:  # no question on this row
            continue
        should = should_answer_value(example.get("should_answer", ""), row=number)
        expected = example.get("expected", "")
        if should and not expected:
            raise ValidationError({"test_version": (
                f"Row {number} (“{example['question'][:80]}”) has no expected answer or passage. Write the answer, "
                "or the title of the passage that answers it, or mark the row “no” in the should-answer column if "
                "your documents cannot answer it."
            )})
        earlier = tuple(line.strip() for line in example.get("earlier", "").splitlines() if line.strip())
        yield TestQuestion(number, example["question"], expected, should, earlier)


def evaluation_test_set_check(*, product: Product, test_version: DatasetVersion) -> int:
    """The number of test questions, or ValidationError (key ``test_version``) saying what to fix. Streams the file."""
    if test_version.dataset.team_id != product.team_id:
        raise ValidationError({"test_version": "Pick one of your team's datasets."})
    if test_version.kind != "qa" or test_version.shape != TEST_QUESTIONS_SHAPE:
        raise ValidationError({"test_version": (
            f"{test_version} is not mapped as test questions. On its dataset page, “Change mapping or split” → "
            "“Q&A: test questions”, and pick the column that holds the questions."
        )})
    if test_version.verdict == Verdict.UNUSABLE:
        raise ValidationError({"test_version": f"{test_version} cannot be used: fix the problems its report lists."})
    count = 0
    for _ in test_questions(test_version):
        count += 1
        if count > MAX_TEST_QUESTIONS:
            raise ValidationError({"test_version": (
                f"{test_version} has more than {MAX_TEST_QUESTIONS:,} test questions; evaluate on a sample of at "
                f"most {MAX_TEST_QUESTIONS:,} (a few hundred already give steady figures)."
            )})
    if count == 0:
        columns = ", ".join(f"“{c}”" for c in test_version.column_mapping.get("question", [])) or "question"
        raise ValidationError({"test_version": (
            f"{test_version} has no test questions: every row's {columns} is empty. Map the column that holds the "
            "questions on its dataset page, or upload a file with questions in it."
        )})
    return count


def evaluation_index_check(*, config: ProductConfig):
    """The ready knowledge index of ``config`` (the draft or a version), or ValidationError in the Knowledge tab's
    words."""
    version_id = config.knowledge_version_id
    if version_id is None:
        raise ValidationError(NO_KNOWLEDGE)
    index = knowledge_index_for(dataset_version_id=version_id)
    if index is None:
        raise ValidationError(NOT_REQUESTED)
    if index.status in (index.Status.FAILED, index.Status.CANCELLED):
        error = (index.error.strip() or "the index worker gave no reason.").rstrip(".") + "."
        raise ValidationError(NOT_READY_FAILED.format(error=error))
    if not index.is_ready:
        raise ValidationError(STILL_READING.format(percent=index.progress_percent))
    return index


@transaction.atomic
def knowledge_evaluation_create(*, product: Product, test_version: DatasetVersion, user,
                                version: ProductVersion | None = None) -> KnowledgeEvaluation:
    """Queue an evaluation of the retrieval (knowledge base, threshold, passages) of ``version``, or of the draft,
    on ``test_version``."""
    kind = get_kind(product.kind)
    if not product.answers_from_knowledge:
        raise ValidationError("Only Q&A assistants are evaluated on test questions.")
    if version is not None and version.product_id != product.pk:
        raise ValidationError({"version": "Pick one of this assistant's versions."})
    config = version or product
    index = evaluation_index_check(config=config)
    total = evaluation_test_set_check(product=product, test_version=test_version)
    settings = kind.retrieval_settings(config)
    evaluation = KnowledgeEvaluation(
        team_id=product.team_id, product=product, version=version, index=index, test_version=test_version,
        created_by=user,
        threshold=float(settings["threshold"]), top_k=int(settings["top_k"]), questions_total=total,
        queue=KnowledgeEvaluation.EVALUATE,
    )
    evaluation.full_clean()
    evaluation.save()
    return evaluation


@transaction.atomic
def knowledge_evaluation_threshold_use(*, product: Product, evaluation: KnowledgeEvaluation) -> Product:
    """Save the evaluation's suggested threshold to the draft (through the Knowledge tab's own service)."""
    from products.services import product_knowledge_update

    if evaluation.product_id != product.pk:
        raise ValidationError("Pick one of this assistant's evaluations.")
    if evaluation.suggested_threshold is None:
        raise ValidationError("This evaluation suggests no threshold: its test set needs questions the documents "
                              "answer and questions marked “no” in the should-answer column.")
    product = Product.objects.select_for_update().get(pk=product.pk)
    return product_knowledge_update(product=product, knowledge_version=product.knowledge_version,
                                    kind_config={"threshold": evaluation.suggested_threshold})
