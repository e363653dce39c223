"""Q&A / customer-service assistants: answers from the team's own documents, with sources, or "I don't know".

The web half of the kind: templates, the settings a person edits (how many passages, how strict), and
``prepare``, which names the knowledge index the worker retrieves from (QA_CONTRACT.md "The answer
request"). Retrieval, abstention and citing happen in the worker's answer runner; its ``sources`` event
and ``{text, citations, abstained, best_score, threshold}`` result are drawn by renderers/answer.js.
A Q&A product fine-tunes like copy does (question → answer pairs, the LoRA trainer); with a knowledge base,
each training question is given the passages the answer runner would retrieve for it (``training_knowledge``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from inference.protocol import InferenceRequest, Task
from products.datasets.shapes import Block, Need, Shape
from products.kinds.base import (
    InputField,
    LogLayout,
    PrepareContext,
    PrepareRefused,
    ProductTemplate,
    TextGenerationKind,
)
from products.kinds.registry import register
from products.kinds.settings import GenerationSettings

if TYPE_CHECKING:
    from products.models.product import ProductConfig

SYSTEM = "You answer customers' questions helpfully, accurately and briefly."

#: Dense cosine below which the assistant says its "I don't know" sentence. One constant: the worker half's
#: measurements (tests/benchmarks) may move it; every new product starts with it.
QA_DEFAULT_THRESHOLD = 0.35
TOP_K_DEFAULT, TOP_K_MAX = 4, 8
ABSTAIN_MAX_CHARS, HANDOFF_MAX_CHARS = 500, 300
#: Earlier user turns embedded with a follow-up question ("and how much is express?").
HISTORY_TURNS = 2

NO_KNOWLEDGE = "This assistant has no knowledge base yet: pick a dataset of your documents in Settings."
NOT_REQUESTED = "This assistant's documents have not been read yet: save its knowledge base in Settings."
STILL_READING = "Still reading your documents ({percent} %). Try again in a minute."
READING_FAILED = "Reading your documents failed: {error} Pick another dataset version in Settings."

#: The dataset shape of test questions the Evaluation tab measures retrieval on (products/knowledge/evaluation.py).
TEST_QUESTIONS_SHAPE = "tests"

QUESTION = InputField("question", "Question", type="paragraph", max_length=1000,
                      help_text="What a customer asks, e.g. “How much is express shipping?”.")


def _render_pair(example: dict[str, Any]) -> list[Block]:
    return [Block("System", SYSTEM), Block("User", example["question"]), Block("Assistant", example["answer"], True)]


def _render_document(example: dict[str, Any]) -> list[Block]:
    title = example.get("title")
    return [Block(f"Passage: {title}" if title else "Passage", example["document"])]


def _render_test_question(example: dict[str, Any]) -> list[Block]:
    blocks = [Block("Test question", example["question"])]
    if example.get("expected"):
        blocks.append(Block("Expected answer or passage", example["expected"]))
    if example.get("should_answer"):
        blocks.append(Block("Should answer", example["should_answer"]))
    if example.get("earlier"):
        blocks.insert(0, Block("Earlier turns", example["earlier"]))
    return blocks


def _template(template_id: str, name: str, description: str, system_prompt: str, abstain_text: str,
              handoff: str = "") -> ProductTemplate:
    return ProductTemplate(
        id=template_id, name=name, description=description, inputs=(QUESTION,),
        system_prompt=system_prompt, prompt_template="{question}",
        settings=GenerationSettings(creativity=0.2, length=200, variants=1), message_input="question",
        kind_config={"top_k": TOP_K_DEFAULT, "threshold": QA_DEFAULT_THRESHOLD, "abstain_text": abstain_text,
                     "handoff": handoff},
    )


@register
class QuestionAnswering(TextGenerationKind):
    id = "qa"
    name = "Q&A assistant"
    description = "Answers customers' questions from your own documents, with sources, and says when it does not know."
    task = Task.ANSWER
    renderer = "products/renderers/answer.js"
    result_template = "products/kinds/answer_result.html"
    # A chat answers once per question; side-by-side variants are for copy.
    max_variants = 1
    default_threshold = QA_DEFAULT_THRESHOLD
    # Passages are what it answers from, not replies to learn: fine-tunes learn from question → answer pairs.
    training_shapes = ("pairs",)
    templates = (
        _template(
            "help-centre", "Help-centre assistant",
            "Answers from your help-centre articles and links the ones it used.",
            "You are the help-centre assistant of our company. Answer only from the passages you are given, in "
            "two or three sentences, and cite them by number like [1].",
            "I can't find that in our help centre. Please contact our support team.",
        ),
        _template(
            "store-faq", "Store FAQ bot",
            "Answers shoppers' questions about shipping, returns and payment from your FAQ.",
            "You are a friendly shop assistant. Answer the shopper's question only from the passages you are "
            "given, briefly, and cite them by number like [1].",
            "Sorry, I don't know that from our shop's FAQ.",
        ),
        _template(
            "policy-helper", "Internal policy helper",
            "Answers colleagues' questions from your internal policies, quoting the rule it used.",
            "You help employees understand company policy. Answer only from the passages you are given, "
            "precisely, and cite them by number like [1]. Never guess a rule.",
            "I can't find that in our policies. Please ask HR.",
        ),
    )
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
        Shape(
            "qa", TEST_QUESTIONS_SHAPE, "Q&A: test questions",
            "Each row is a question to try the assistant's retrieval with, and the answer or passage it should "
            "find; an optional yes/no column marks questions your documents cannot answer (it should say "
            "“I don't know”), and an optional “earlier turns” column makes a row a follow-up question. The "
            "Evaluation tab measures on them.",
            (
                Need("question", "Question", "The test question, as a customer would ask it.",
                     synonyms=("question", "questions", "q", "query", "testquestion")),
                Need("expected", "Expected answer or passage",
                     "Optional on questions it should not answer: the answer, or the title or text of the "
                     "passage, that retrieval should find (or “row 14”: the passage from that data row).",
                     required=False,
                     synonyms=("expected", "expectedanswer", "expectedpassage", "expectedsource", "source",
                               "answer", "passage", "title")),
                Need("should_answer", "Should answer (yes/no)",
                     "Optional: “no” on questions your documents cannot answer; blank means yes.",
                     required=False,
                     synonyms=("shouldanswer", "answerable", "shouldanswerit", "inscope", "canbeanswered")),
                Need("earlier", "Earlier turns",
                     "Optional, for follow-up questions: what the customer asked before, e.g. “How long does "
                     "shipping take?” before “And how much is express?”; several earlier questions on separate "
                     "lines, oldest first. Retrieval then reads them as the chat does.",
                     required=False,
                     synonyms=("earlier", "earlierturns", "earlierquestion", "previous", "previousquestion",
                               "conversation", "history", "followupto")),
            ),
            _render_test_question,
        ),
    )

    def clean_config(self, kind_config: dict[str, Any]) -> dict[str, Any]:
        """Retrieval settings with the defaults filled in; ValidationError names each bad one in words."""
        given = dict(kind_config or {})
        errors: dict[str, str] = {}
        top_k = given.get("top_k", TOP_K_DEFAULT)
        if isinstance(top_k, str) and top_k.strip().isdigit():
            top_k = int(top_k)
        if isinstance(top_k, float) and top_k.is_integer():
            top_k = int(top_k)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= TOP_K_MAX:
            errors["top_k"] = f"How many passages to use must be a whole number from 1 to {TOP_K_MAX}."
        threshold = given.get("threshold", QA_DEFAULT_THRESHOLD)
        try:
            threshold = float(threshold) if not isinstance(threshold, bool) else math.nan
        except (TypeError, ValueError):
            threshold = math.nan
        if not (math.isfinite(threshold) and 0 <= threshold <= 1):
            errors["threshold"] = "How sure before answering must be a number from 0 to 1."
        abstain = given.get("abstain_text", "")
        abstain = abstain.strip() if isinstance(abstain, str) else ""
        if not abstain:
            errors["abstain_text"] = "Write the sentence the assistant says when your documents do not answer."
        elif len(abstain) > ABSTAIN_MAX_CHARS:
            errors["abstain_text"] = f"The “I don't know” sentence is {len(abstain)} characters; the limit is " \
                                     f"{ABSTAIN_MAX_CHARS}."
        handoff = given.get("handoff") or ""
        handoff = handoff.strip() if isinstance(handoff, str) else None
        if handoff is None:
            errors["handoff"] = "The “talk to a person” line must be text, e.g. an email address or a link."
        elif len(handoff) > HANDOFF_MAX_CHARS:
            errors["handoff"] = f"The “talk to a person” line is {len(handoff)} characters; the limit is " \
                                f"{HANDOFF_MAX_CHARS}."
        if errors:
            raise ValidationError(errors)
        return {**given, "top_k": top_k, "threshold": round(threshold, 3), "abstain_text": abstain,
                "handoff": handoff}

    def retrieval_settings(self, config: ProductConfig) -> dict[str, Any]:
        """The version's retrieval settings; a version saved before a setting existed gets its default."""
        stored = dict(config.kind_config or {})
        defaults = self.templates[0].kind_config
        return {name: stored.get(name, default) for name, default in defaults.items()}

    def prepare(self, config: ProductConfig, inputs: dict[str, Any], context: PrepareContext) -> InferenceRequest:
        knowledge = context.knowledge
        if knowledge is None:
            raise PrepareRefused("knowledge_not_ready", NO_KNOWLEDGE)
        if knowledge.status == "not_requested":
            raise PrepareRefused("knowledge_not_ready", NOT_REQUESTED)
        if knowledge.status in ("failed", "cancelled"):
            error = knowledge.error.strip() or "the index worker gave no reason."
            raise PrepareRefused("knowledge_not_ready", READING_FAILED.format(error=error.rstrip(".") + "."))
        if not knowledge.is_ready:
            raise PrepareRefused("knowledge_not_ready", STILL_READING.format(percent=knowledge.progress_percent))
        question = str(inputs["question"]).strip()
        messages = self.build_messages(system_prompt=config.system_prompt, prompt_template=config.prompt_template,
                                       inputs=inputs)
        system, latest = ([messages[0]], messages[-1]) if messages[0]["role"] == "system" else ([], messages[-1])
        earlier = [{"role": turn["role"], "content": turn["content"]} for turn in context.conversation]
        settings = self.retrieval_settings(config)
        return InferenceRequest(
            task=self.task, model=config.base_model, adapter=config.adapter_path,
            messages=[*system, *earlier, latest],
            params=self.generation_params(context.settings), remote=config.remote_request(),
            retrieval={
                "index": knowledge.index_id,
                "team": knowledge.team_id,
                "question": question,
                "history": [turn["content"] for turn in earlier if turn["role"] == "user"][-HISTORY_TURNS:],
                "top_k": settings["top_k"],
                "threshold": settings["threshold"],
                "abstain_text": settings["abstain_text"],
                "handoff": settings["handoff"] or "",
            },
        )

    def training_knowledge(self, config: ProductConfig) -> dict[str, Any] | None:
        """The knowledge base and retrieval settings a fine-tune builds its prompts with, as the answer runner
        would (inference/training/passages.py); None without a knowledge base (plain question → answer)."""
        if config.knowledge_version_id is None:
            return None
        settings = self.retrieval_settings(config)
        return {"version": config.knowledge_version_id, "top_k": settings["top_k"],
                "threshold": settings["threshold"]}

    def result_text(self, result: dict[str, Any]) -> str:
        return str(result.get("text", ""))

    def log_training_layout(self, config: ProductConfig) -> LogLayout | None:
        """Question → answer pairs (what a Q&A fine-tune learns from), never passages."""
        return LogLayout("pairs", {"question": ["question"], "answer": ["answer"]}, "answer")

    def log_training_row(self, config: ProductConfig, inputs: dict[str, Any], answer: str) -> dict[str, str]:
        field = self.message_input(config)
        question = inputs.get(field.name) if field is not None else None
        return {"question": "" if question is None else str(question), "answer": answer}
