"""What a product kind is: a typed plugin the rest of the studio calls without knowing it.

A kind declares its task (generate, answer, rank, classify), its gallery templates, its inputs (one
form for every surface), which input a chat message fills, its dataset shapes, ``prepare`` (pure:
inputs in, an ``InferenceRequest`` out), how its result renders (a template partial and one JS
renderer shared by the playground and the widget), its trainer and its evaluation metrics. Views,
consumers, the REST API and the worker only call what is declared here, so adding a kind is one
module under products/kinds/ and one line in settings.PRODUCT_KIND_MODULES.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from inference.protocol import InferenceRequest, Task
from products.datasets.shapes import Shape
from products.kinds.inputs import TEXT_TYPES, InputError, InputField, clean_inputs

# prompts.py holds the template rules; kinds and older callers import these names from here.
from products.kinds.prompts import PromptTooLong, prompt_char_limit, render_prompt
from products.kinds.prompts import template_placeholders as prompt_placeholders
from products.kinds.settings import GenerationSettings

if TYPE_CHECKING:
    from products.models.product import ProductConfig

__all__ = [
    "GenerationSettings", "InputError", "InputField", "KnowledgeRef", "LogLayout", "PrepareContext", "PrepareRefused",
    "ProductKind", "ProductTemplate", "TextGenerationKind", "TrainingConversation", "prompt_placeholders",
    "render_prompt",
]

#: Seconds a text generation may run; the worker ends it with finish reason ``time_limit``.
MAX_SECONDS = 90.0
#: What a renderer that draws model text as Markdown needs before it: the vendored libraries, then the helper.
MARKDOWN_RENDERER_NEEDS = (
    "products/vendor/markdown-it.min.js", "products/vendor/purify.min.js", "products/renderers/markdown.js",
)


class PrepareRefused(Exception):
    """``prepare`` cannot build a request for a reason that is no input's fault (not trained, knowledge not read yet).

    ``code`` and ``message`` reach the person unchanged (generation_start raises them as GenerationRefused).
    """

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(message)


@dataclass(frozen=True)
class TrainingConversation:
    """One fine-tuning example: the chat messages a product sends, and the reply the model learns to give."""

    messages: list[dict[str, str]]
    reply: str
    #: Knowledge passages put in the prompt (a Q&A fine-tune retrieves them, inference/training/passages.py).
    passages: int = 0


@dataclass(frozen=True)
class LogLayout:
    """How a kind's logged answers become training rows: its dataset shape, the column mapping, the answer's column."""

    shape: str
    mapping: dict[str, list[str]]
    answer_column: str

    @property
    def columns(self) -> list[str]:
        return [column for columns in self.mapping.values() for column in columns]


@dataclass(frozen=True)
class ProductTemplate:
    """A starting point in the template gallery."""

    id: str
    name: str
    description: str
    inputs: tuple[InputField, ...]
    system_prompt: str = ""
    prompt_template: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    #: The input a chat message (widget visitor, OpenAI client) fills; None: the first text input.
    message_input: str | None = None
    #: Kind-specific settings a new product starts with (ProductConfig.kind_config).
    kind_config: dict[str, Any] = field(default_factory=dict)
    #: What its embed widget shows at first: {"title", "placeholder", "greeting"} (ProductConfig.widget).
    widget: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KnowledgeRef:
    """The knowledge base a version answers from, as ``prepare`` sees it (no database access in prepare).

    ``team_id`` is the product's team, which the worker checks against the index's own; ``status`` is the
    index's LeasedJob status, or "not_requested" when the dataset version was never queued for reading.
    """

    index_id: int | None
    team_id: int
    status: str
    progress_percent: int = 0
    error: str = ""

    @property
    def is_ready(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class PrepareContext:
    """What ``prepare`` may use besides the inputs: checked settings, earlier turns of a chat, the knowledge base."""

    settings: GenerationSettings
    conversation: tuple[dict[str, str], ...] = ()
    knowledge: KnowledgeRef | None = None


class ProductKind:
    """Base class of product kinds. Subclasses set the attributes and implement ``prepare``."""

    id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    task: ClassVar[Task] = Task.GENERATE
    #: "available" kinds are in the gallery; "planned" ones only lend their dataset shapes until they land.
    status: ClassVar[str] = "available"
    templates: ClassVar[tuple[ProductTemplate, ...]] = ()
    dataset_shapes: ClassVar[tuple[Shape, ...]] = ()
    #: TrainingRun.Method that trains this kind (None: not trainable yet), and what its evaluation reports.
    trainer: ClassVar[str | None] = None
    evaluation_metrics: ClassVar[tuple[str, ...]] = ()
    #: The dataset shapes a fine-tune learns from (empty: any of the kind's shapes).
    training_shapes: ClassVar[tuple[str, ...]] = ()
    #: How one result is drawn: a template partial (logs, recent results) and a static JS renderer.
    result_template: ClassVar[str] = "products/kinds/text_result.html"
    renderer: ClassVar[str] = "products/renderers/text.js"
    #: Static scripts the renderer uses, loaded before it (playground) or inlined before it (widget).
    renderer_needs: ClassVar[tuple[str, ...]] = ()
    #: Whether /v1/chat/completions can carry the result as a message (``result_text``).
    openai_compatible: ClassVar[bool] = True
    max_variants: ClassVar[int] = 4
    #: Kind-specific settings a person may change on the versions page (saved into kind_config as a new version).
    config_fields: ClassVar[tuple[InputField, ...]] = ()
    #: How an editor corrects a logged result on the Logs tab: "text" (writes what it should have said),
    #: "label" (picks the right one of ``correction_labels``), "" (no correction: e.g. recommendations).
    correction: ClassVar[str] = ""

    # Declarations ------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def renderer_name(self) -> str:
        """The name the renderer file registers under: its file name (products/renderers/text.js → text)."""
        return self.renderer.rsplit("/", 1)[-1].removesuffix(".js")

    @property
    def renderer_scripts(self) -> tuple[str, ...]:
        """The static scripts that draw a result, in load order: what the renderer needs, then the renderer."""
        return (*self.renderer_needs, self.renderer)

    def template(self, template_id: str) -> ProductTemplate:
        for template in self.templates:
            if template.id == template_id:
                return template
        raise KeyError(f"The {self.name} kind has no template {template_id!r}.")

    def shape(self, shape_id: str) -> Shape:
        return next(shape for shape in self.dataset_shapes if shape.id == shape_id)

    # Inputs ------------------------------------------------------------------------------------

    def input_fields(self, config: ProductConfig) -> list[InputField]:
        return [InputField.from_dict(data) for data in config.input_schema]

    def clean_inputs(self, config: ProductConfig, data: dict[str, Any]) -> dict[str, Any]:
        """The inputs checked by the kind's input form; raises InputError naming every bad one."""
        return clean_inputs(self.input_fields(config), data)

    def message_input(self, config: ProductConfig) -> InputField | None:
        """The input a chat message fills: the one the version names, else the first text input."""
        fields = self.input_fields(config)
        named = (config.kind_config or {}).get("message_input")
        chosen = next((f for f in fields if f.name == named), None)
        return chosen or next((f for f in fields if f.type in TEXT_TYPES), None)

    def inputs_unfilled_by_message(self, config: ProductConfig) -> list[InputField]:
        """Required inputs a chat message leaves empty (no default): a widget would refuse every visitor."""
        target = self.message_input(config)
        return [f for f in self.input_fields(config) if f.required and not f.has_default and f != target]

    def inputs_from_message(self, config: ProductConfig, message: str,
                            extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Inputs for one chat message; ``extra`` (inputs a developer named) wins. Defaults fill the rest."""
        target = self.message_input(config)
        inputs = {target.name: message} if target is not None else {}
        return {**inputs, **(extra or {})}

    def config_initial(self, kind_config: dict[str, Any]) -> dict[str, Any]:
        """``kind_config`` as the config form shows it (a kind storing lists shows them as text)."""
        return dict(kind_config or {})

    def clean_config(self, kind_config: dict[str, Any]) -> dict[str, Any]:
        """Check a version's kind-specific settings; raise ValidationError naming the bad one."""
        return dict(kind_config or {})

    def check_config(self, config: ProductConfig) -> None:
        """Check the cleaned settings against what ``config`` serves (its trained model, its data) when saved."""

    # Serving -----------------------------------------------------------------------------------

    def prepare(self, config: ProductConfig, inputs: dict[str, Any], context: PrepareContext) -> InferenceRequest:
        """Turn checked inputs into the worker's request. Pure: no database writes, no torch."""
        raise NotImplementedError(f"The {self.name} kind must implement `prepare(config, inputs, context)`.")

    def result_text(self, result: dict[str, Any]) -> str:
        """The result as plain text (OpenAI message content, logs, Copy)."""
        return str(result.get("text", ""))

    # Logs --------------------------------------------------------------------------------------

    def correction_labels(self, config: ProductConfig) -> list[str]:
        """The labels a "label" correction may pick for a result of ``config`` (empty: any the result names)."""
        return []

    def log_answer(self, result: dict[str, Any]) -> str:
        """What a logged result teaches when nobody corrected it ("" when it teaches nothing)."""
        return self.result_text(result)

    def log_training_layout(self, config: ProductConfig) -> LogLayout | None:
        """The training shape logged answers become, or None when they cannot become training rows."""
        return None

    def log_training_row(self, config: ProductConfig, inputs: dict[str, Any], answer: str) -> dict[str, str]:
        """One logged generation (its inputs, and the answer it gave or was corrected to) as a training row."""
        raise NotImplementedError(f"The {self.name} kind turns no logs into training rows.")

    # Training ----------------------------------------------------------------------------------

    def training_conversation(
        self, *, example: dict[str, Any], rendered: list[Any], prompt_config: dict[str, Any]
    ) -> TrainingConversation | None:
        """Turn one dataset example into a fine-tuning conversation, or None when it teaches no reply."""
        return None

    def training_knowledge(self, config: ProductConfig) -> dict[str, Any] | None:
        """What a fine-tune retrieves its prompts' passages from (stored in the run's prompt_config), or None."""
        return None


class TextGenerationKind(ProductKind):
    """A kind whose worker writes text from a prompt: messages in, tokens out (copywriting)."""

    task = Task.GENERATE
    trainer = "lora"
    renderer_needs = MARKDOWN_RENDERER_NEEDS
    evaluation_metrics = ("loss", "perplexity", "bleu", "rouge1", "rougeL")
    correction = "text"

    def _output_column(self, config: ProductConfig) -> str:
        names = {field.name for field in self.input_fields(config)}
        return next(name for name in ("output", "finished_output", "studio_output") if name not in names)

    def log_training_layout(self, config: ProductConfig) -> LogLayout | None:
        """Facts → finished copy: one column per input, then the answer (copywriting's "examples" shape)."""
        inputs, output = [field.name for field in self.input_fields(config)], self._output_column(config)
        return LogLayout("examples", {"inputs": inputs, "output": [output]}, output)

    def log_training_row(self, config: ProductConfig, inputs: dict[str, Any], answer: str) -> dict[str, str]:
        row = {field.name: _text(inputs.get(field.name)) for field in self.input_fields(config)}
        return {**row, self._output_column(config): answer}

    def build_messages(self, *, system_prompt: str, prompt_template: str, inputs: dict[str, Any]) -> list[dict]:
        """Turn cleaned inputs into chat messages for the engine."""
        limit = prompt_char_limit()
        try:  # refused here, before the engine tokenises anything on the thread every team shares
            user = render_prompt(prompt_template, inputs, max_chars=max(limit - len(system_prompt), 0))
        except PromptTooLong:
            # Named under the longest input, so the form marks the field to shorten.
            longest = max(inputs, key=lambda name: len(str(inputs[name])), default="prompt")
            raise InputError({longest: (
                f"This makes the prompt longer than {limit:,} characters, the most the model reads; shorten it."
            )}) from None
        messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
        return [*messages, {"role": "user", "content": user}]

    def generation_params(
        self, settings: GenerationSettings, kind_config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "max_new_tokens": settings.length,
            "temperature": settings.creativity,
            "top_p": 0.95,
            "repetition_penalty": 1.1 if settings.creativity > 0 else 1.0,
            "max_seconds": MAX_SECONDS,
        }

    def prepare(self, config: ProductConfig, inputs: dict[str, Any], context: PrepareContext) -> InferenceRequest:
        messages = self.build_messages(
            system_prompt=config.system_prompt, prompt_template=config.prompt_template, inputs=inputs
        )
        return InferenceRequest(
            task=self.task, model=config.base_model, adapter=config.adapter_path, messages=messages,
            params=self.generation_params(context.settings, config.kind_config), remote=config.remote_request(),
        )

    def training_conversation(
        self, *, example: dict[str, Any], rendered: list[Any], prompt_config: dict[str, Any]
    ) -> TrainingConversation | None:
        """Turn one dataset example into a fine-tuning conversation, or None when it teaches no reply.

        ``rendered`` is the example as the dataset page shows it (blocks, the learnt one marked) and
        ``prompt_config`` the product's system prompt, prompt template and input schema. When the example
        holds every required input of the product, the conversation is exactly what the playground will
        send, so the tuned model learns the prompt it will be asked; otherwise it is the dataset's rendering.
        """
        reply = next((block.text for block in reversed(rendered) if block.learnt), None)
        if not reply:
            return None  # passages and catalogs: nothing to learn to write
        fields = [InputField.from_dict(data) for data in prompt_config.get("input_schema", [])]
        try:
            inputs = clean_inputs(fields, example_values(example)) if fields else None
        except InputError:
            inputs = None
        if inputs is not None:
            messages = self.build_messages(
                system_prompt=prompt_config.get("system_prompt", ""),
                prompt_template=prompt_config.get("prompt_template", ""),
                inputs=inputs,
            )
            return TrainingConversation(messages, reply)
        roles = {"system": "system", "user": "user"}
        messages = [
            {"role": roles[block.label.lower()], "content": block.text}
            for block in rendered
            if not block.learnt and block.label.lower() in roles
        ]
        return TrainingConversation(messages, reply) if messages else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def example_values(example: dict[str, Any]) -> dict[str, Any]:
    """A dataset example's values by name: multi-column fields ({column: value}) are spread out."""
    values: dict[str, Any] = {}
    for name, value in example.items():
        if isinstance(value, dict):
            values.update(value)
        else:
            values[name] = value
    return values
