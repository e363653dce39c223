from __future__ import annotations

from django.conf import settings
from django.db import models

from products.models.apikey import new_public_key, widget_product_limit_default, widget_visitor_limit_default

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"


class ProductConfig(models.Model):
    """Everything that decides what a product generates. Drafts and versions share it."""

    template_id = models.CharField(max_length=60, blank=True)
    system_prompt = models.TextField(blank=True)
    prompt_template = models.TextField(default="", blank=True)
    input_schema = models.JSONField(default=list, help_text="Input fields, as InputField dicts.")
    settings = models.JSONField(default=dict, help_text="creativity, length, variants.")
    base_model = models.CharField(max_length=120, default=DEFAULT_BASE_MODEL)
    # A fine-tuned adapter on top of the base model (from a training run); empty means the base model alone.
    # RESTRICT: a model a version serves cannot be deleted, unless the version goes too.
    fine_tuned_artifact = models.ForeignKey(
        "inference.ModelArtifact", on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    # What only some kinds have, validated by the kind (products/kinds/): retrieval settings and the
    # "I don't know" answer (Q&A), the unsure threshold (classification), business rules (recommendations).
    kind_config = models.JSONField(default=dict, blank=True, help_text="Kind-specific settings, validated by the kind.")
    # The dataset version a Q&A product answers from (its knowledge base). RESTRICT: a knowledge base a
    # version uses cannot be deleted while that version exists.
    knowledge_version = models.ForeignKey(
        "products.DatasetVersion", on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    # A remote OpenAI-compatible engine (vLLM, llama.cpp's server) that writes instead of this studio's own:
    # a name from the operator's STUDIO_REMOTE_ENGINES (blank: this studio), the model or adapter name
    # there, and its API key, encrypted with a key from SECRET_KEY (products/remote_engines.py) because it
    # must stay usable, unlike our own hashed keys. Not editable in forms: only the Engine tab's service sets it.
    remote_engine = models.CharField(max_length=40, blank=True)
    remote_model = models.CharField(max_length=200, blank=True)
    remote_api_key = models.TextField(blank=True, editable=False)
    # What the embed widget shows: {"title", "placeholder", "greeting"}, each optional (blank: the product's
    # name, the message input's label, no greeting). Part of the version, so a release compares them too;
    # the defaults a visitor's message leaves to the other inputs are in input_schema (InputField.default).
    widget = models.JSONField(default=dict, blank=True, help_text="The widget's title, placeholder and greeting.")

    CONFIG_FIELDS = (
        "system_prompt", "prompt_template", "input_schema", "settings", "base_model", "fine_tuned_artifact_id",
        "kind_config", "knowledge_version_id", "remote_engine", "remote_model", "remote_api_key", "widget",
    )

    class Meta:
        abstract = True

    def config(self) -> dict:
        return {name: getattr(self, name) for name in self.CONFIG_FIELDS}

    @property
    def adapter_path(self) -> str | None:
        """The fine-tuned adapter's folder for the inference worker, or None for the base model alone."""
        if self.fine_tuned_artifact_id is None:
            return None
        return str(self.fine_tuned_artifact.directory)


    def remote_request(self) -> dict | None:
        """What a worker needs to stream from the remote engine (the key still encrypted), or None for this studio."""
        if not self.remote_engine:
            return None
        return {"engine": self.remote_engine, "model": self.remote_model, "api_key": self.remote_api_key}


class Product(ProductConfig):
    """An AI product a team builds. Its own config is the editable draft; versions are frozen."""

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="products")
    kind = models.CharField(max_length=40)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=130)
    description = models.TextField(blank=True)
    live_version = models.ForeignKey(
        "products.ProductVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Archived: unpublished and out of the product list's main part, its versions and logs kept; the widget and
    # the API refuse it (products/generation.py) until it is restored. Null: in use.
    archived_at = models.DateTimeField(null=True, blank=True)
    # The embed widget (products/embed/): who may show it, and how much it may be used.
    public_key = models.CharField(max_length=40, unique=True, default=new_public_key, editable=False)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text='Websites allowed to show the widget, e.g. ["https://shop.example"].'
    )
    widget_messages_per_visitor_hour = models.PositiveIntegerField(default=widget_visitor_limit_default)
    widget_messages_per_day = models.PositiveIntegerField(default=widget_product_limit_default)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["team", "slug"], name="product_slug_unique_in_team")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def answers_from_knowledge(self) -> bool:
        """Whether its kind answers from a knowledge base (Q&A): the pages show a Knowledge tab."""
        from inference.protocol import Task
        from products.kinds import get_kind

        try:
            return get_kind(self.kind).task == Task.ANSWER
        except KeyError:
            return False

    @property
    def labels_files(self) -> bool:
        """Whether its kind labels texts (classification): the pages show a “Label a file” tab."""
        from inference.protocol import Task
        from products.kinds import get_kind

        try:
            return get_kind(self.kind).task == Task.CLASSIFY
        except KeyError:
            return False

    @property
    def kind_name(self) -> str:
        """The kind in words ("Marketing copy"), never its id."""
        from products.kinds import get_kind  # kinds import the models' types, not the other way round

        try:
            return get_kind(self.kind).name
        except KeyError:
            return self.kind


class ProductVersion(ProductConfig):
    """An immutable snapshot of a product's config. Publishing moves the product's pointer."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["product", "number"], name="version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.product.name} v{self.number}"
