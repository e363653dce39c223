"""Text classifiers: one label (and a probability for every label) per text, from a fine-tuned MiniLM head.

A classification product learns from a labelled dataset (text → label): "Train classifier" runs the
``classifier`` training method (inference/training/classifier/), and the version made from the run
serves its artifact through the worker's classify runner (inference/runners/classify.py). Below the
version's ``unsure_below`` confidence the answer is "unsure" (the top label rides along as
``top_label``), so a person can route those texts to someone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from inference.protocol import InferenceRequest, Task
from inference.registry import EMBEDDING_MODEL_ID
from products.datasets.shapes import Block, Need, Shape
from products.kinds.base import InputField, LogLayout, PrepareContext, PrepareRefused, ProductKind, ProductTemplate
from products.kinds.registry import register

if TYPE_CHECKING:
    from products.models.product import ProductConfig

SYSTEM = "Sort the message into one category. Reply with the category only."
#: What the product answers when its confidence is below the version's threshold.
UNSURE = "unsure"
DEFAULT_UNSURE_BELOW = 0.5
#: Characters a text may have; the classifier reads its first tokens only (64–128), the encoder at most 256.
MAX_TEXT_CHARS = 5_000

NOT_TRAINED = (
    "Train the classifier first: Datasets → upload labelled texts (a text and a label column), then this "
    "product's Train tab → Train classifier, then “Create a version with this model” on the finished run."
)
#: At most this many labels for the base model to choose from before training (its prompt lists them all).
MAX_ZERO_SHOT_LABELS = 12
ZERO_SHOT_QUESTION = "Which category is this message about? Choose one of: {labels}.\nAnswer with one word."


def zero_shot_labels(raw: Any) -> list[str]:
    """The labels to try before training, from a list or a comma-separated text: trimmed, unique, ≤ 12."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    labels: list[str] = []
    for item in items:
        label = " ".join(str(item).split())
        if label and label.lower() not in (known.lower() for known in labels):
            labels.append(label)
    if len(labels) == 1:
        raise ValidationError({"kind_config": "Give at least two labels to try, separated by commas."})
    if len(labels) > MAX_ZERO_SHOT_LABELS or any(len(label) > 40 for label in labels):
        raise ValidationError({"kind_config": (
            f"Give at most {MAX_ZERO_SHOT_LABELS} labels to try, each under 40 characters."
        )})
    return labels


def _render_labelled(example: dict[str, Any]) -> list[Block]:
    return [Block("System", SYSTEM), Block("User", example["text"]), Block("Assistant", example["label"], True)]


def _render_unlabelled(example: dict[str, Any]) -> list[Block]:
    blocks = [Block("Text", example["text"])]
    if example.get("label"):
        blocks.append(Block("Label in the file", example["label"]))
    return blocks


def _text_input(label: str, help_text: str) -> InputField:
    return InputField("text", label, type="paragraph", help_text=help_text, max_length=MAX_TEXT_CHARS)


@register
class Classification(ProductKind):
    id = "classification"
    name = "Classification"
    description = "Sorts messages into your categories (sentiment, support topics, spam) with a confidence."
    task = Task.CLASSIFY
    trainer = "classifier"
    evaluation_metrics = ("accuracy", "macro_f1", "roc_auc", "per_class", "confusion", "calibration")
    result_template = "products/kinds/label_result.html"
    renderer = "products/renderers/label.js"
    openai_compatible = True
    max_variants = 1  # the same text gets the same label: variants would only repeat it
    correction = "label"
    config_fields = (
        InputField("unsure_below", "Unsure below", type="number", minimum=0, maximum=0.99,
                   default=DEFAULT_UNSURE_BELOW, required=False,
                   help_text="Answers less confident than this say “unsure” (e.g. 0.6 = 60 %); 0 never does. "
                             "The run's report shows what share that would be and the accuracy on the rest."),
        InputField("labels", "Labels to try before training", required=False, max_length=400,
                   help_text="Comma-separated, e.g. “shipping, returns, billing”. Until a classifier is trained, "
                             "the base language model picks one of these (a zero-shot guess, no confidences), "
                             "so you can see the baseline first. Leave empty to refuse until trained."),
    )
    dataset_shapes = (
        Shape(
            "classification", "labelled", "Classification: text → label",
            "Each row is a message and the category it belongs to.",
            (
                Need("text", "Text", "The message to sort.",
                     synonyms=("text", "message", "content", "body", "sentence", "review", "ticket", "comment")),
                Need("label", "Label", "The category the model learns to choose.",
                     synonyms=("label", "category", "class", "intent", "tag", "topic", "sentiment", "type")),
            ),
            _render_labelled,
            stratify_by="label",
        ),
        Shape(
            "classification", "texts", "Classification: texts to label",
            "Each row is a message for a trained classifier to label (the product's “Label a file” tab). "
            "A label column is optional: the labelled file then says where the classifier agrees with it.",
            (
                Need("text", "Text", "The message to sort.",
                     synonyms=("text", "message", "content", "body", "sentence", "review", "ticket", "comment")),
                Need("label", "Label", "Optional: the label the row already has, to compare with.", required=False,
                     synonyms=("label", "category", "class", "intent", "tag", "topic", "sentiment", "type")),
            ),
            _render_unlabelled,
        ),
    )
    #: Unlabelled texts are labelled in a batch job; only labelled ones teach the classifier.
    training_shapes = ("labelled",)
    templates = (
        ProductTemplate(
            id="review-sentiment", name="Sentiment of reviews",
            description="Tells positive from negative (or neutral) reviews, with how sure it is.",
            inputs=(_text_input("Review", "A customer review, e.g. “Arrived broken, and nobody answers my emails.”"),),
            kind_config={"unsure_below": 0.6, "labels": ["positive", "negative", "neutral"]},
        ),
        ProductTemplate(
            id="support-routing", name="Route support tickets",
            description="Sends each support message to the right team: shipping, returns, billing, product, account.",
            inputs=(_text_input("Message", "What the customer wrote, e.g. “I was charged twice for one order.”"),),
            kind_config={"unsure_below": 0.5,
                         "labels": ["shipping", "returns", "billing", "product", "account"]},
        ),
        ProductTemplate(
            id="spam-detection", name="Detect spam",
            description="Flags spam in comments, sign-ups or contact forms, and says “unsure” when it cannot tell.",
            inputs=(_text_input("Text", "A comment or message to check."),),
            kind_config={"unsure_below": 0.7, "labels": ["spam", "not spam"]},
        ),
    )

    def clean_config(self, kind_config: dict[str, Any]) -> dict[str, Any]:
        config = dict(kind_config or {})
        raw = config.get("unsure_below", DEFAULT_UNSURE_BELOW)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or not 0.0 <= value < 1.0:
            raise ValidationError({"kind_config": (
                "“Unsure below” is a confidence from 0 to 0.99 (e.g. 0.6: answers under 60 % confident say "
                "“unsure”); 0 never says unsure."
            )})
        config["unsure_below"] = value
        config["labels"] = zero_shot_labels(config.get("labels"))
        return config

    def config_initial(self, kind_config: dict[str, Any]) -> dict[str, Any]:
        initial = dict(kind_config or {})
        initial["labels"] = ", ".join(initial.get("labels") or [])
        return initial

    def unsure_below(self, config: ProductConfig) -> float:
        return float((config.kind_config or {}).get("unsure_below", DEFAULT_UNSURE_BELOW))

    def prepare(self, config: ProductConfig, inputs: dict[str, Any], context: PrepareContext) -> InferenceRequest:
        artifact = config.fine_tuned_artifact
        if artifact is None or artifact.kind != "classifier":
            labels = (config.kind_config or {}).get("labels") or []
            if len(labels) < 2:
                raise PrepareRefused("not_trained", NOT_TRAINED)
            return self.zero_shot_request(config, inputs["text"], labels)
        return InferenceRequest(
            task=self.task, model=EMBEDDING_MODEL_ID, artifact=str(artifact.directory),
            query={"texts": [inputs["text"]], "unsure_below": self.unsure_below(config)},
        )

    def zero_shot_request(self, config: ProductConfig, text: str, labels: list[str]) -> InferenceRequest:
        """The base language model asked to pick one label, greedily, in a few tokens (the classify runner
        maps its reply to a label): the baseline a person sees before training anything."""
        # One user turn, the labels after the text: the 135M model named a label far more often this way than
        # with a system prompt before it (tests/benchmarks/bench_zero_shot.py; replaced by str.replace, never
        # str.format, so braces in a label or a text stay text).
        question = ZERO_SHOT_QUESTION.replace("{labels}", ", ".join(labels))
        messages = [{"role": "user", "content": f"Message: {text}\n\n{question}"}]
        return InferenceRequest(
            task=self.task, model=config.base_model, adapter=None, messages=messages,
            params={"max_new_tokens": 8, "temperature": 0.0, "stop": ["\n"], "max_seconds": 30.0},
            query={"texts": [text], "zero_shot_labels": list(labels)}, remote=config.remote_request(),
        )

    def result_text(self, result: dict[str, Any]) -> str:
        return str(result.get("label", ""))

    def log_answer(self, result: dict[str, Any]) -> str:
        """An "unsure" answer names no label to learn: only a correction makes it a training row."""
        return "" if result.get("unsure") else self.result_text(result)

    def correction_labels(self, config: ProductConfig) -> list[str]:
        """The labels the version's classifier was trained on (its artifact's metadata)."""
        artifact = config.fine_tuned_artifact
        return [str(label) for label in (artifact.metadata or {}).get("labels", [])] if artifact else []

    def log_training_layout(self, config: ProductConfig) -> LogLayout | None:
        return LogLayout("labelled", {"text": ["text"], "label": ["label"]}, "label")

    def log_training_row(self, config: ProductConfig, inputs: dict[str, Any], answer: str) -> dict[str, str]:
        text = inputs.get("text")
        return {"text": "" if text is None else str(text), "label": answer}
