"""Output shapes shared by several endpoints (each view keeps its own Input serializer)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class InputFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=["text", "paragraph", "choice", "number"])
    required = serializers.BooleanField(default=True)
    help_text = serializers.CharField(required=False)
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    max_length = serializers.IntegerField(required=False)
    minimum = serializers.FloatField(required=False, allow_null=True)
    maximum = serializers.FloatField(required=False, allow_null=True)
    default = serializers.JSONField(required=False, allow_null=True)


class SettingsSerializer(serializers.Serializer):
    creativity = serializers.FloatField(help_text="Sampling temperature; 0 always gives the same answer.")
    length = serializers.IntegerField(help_text="Most tokens the model writes.")
    variants = serializers.IntegerField(required=False)


class ProductSerializer(serializers.Serializer):
    slug = serializers.SlugField(help_text="The product's id in URLs, and its `model` name on /v1/.")
    name = serializers.CharField()
    kind = serializers.CharField()
    description = serializers.CharField()
    live_version = serializers.SerializerMethodField()
    inputs = InputFieldSerializer(source="input_schema", many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_live_version(self, product) -> int | None:
        return product.live_version.number if product.live_version_id else None


class KnowledgeStatusSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(source="dataset_version.dataset_id", help_text="The dataset's id.")
    dataset_version = serializers.IntegerField(source="dataset_version.number")
    status = serializers.ChoiceField(choices=["not_requested", "queued", "running", "ready", "failed"],
                                     source="state", help_text="`ready` once its passages can be searched.")
    progress_percent = serializers.IntegerField(source="percent")
    passages = serializers.IntegerField(help_text="Passages searched when answering (once ready).")
    message = serializers.CharField(help_text="The status in words, as the studio shows it.")
    error = serializers.CharField(help_text="Why reading the documents failed; empty otherwise.")


class ProductDetailSerializer(ProductSerializer):
    knowledge = serializers.SerializerMethodField(
        help_text="Q&A products: the knowledge base the draft answers from and how far reading it has got."
    )
    retrieval = serializers.SerializerMethodField(
        help_text="Q&A products: top_k, threshold, abstain_text and handoff of the draft."
    )

    @extend_schema_field(KnowledgeStatusSerializer(allow_null=True))
    def get_knowledge(self, product) -> dict | None:
        from products.knowledge.selectors import knowledge_status

        if not product.answers_from_knowledge:
            return None
        status = knowledge_status(product=product)
        return KnowledgeStatusSerializer(status).data if status.dataset_version is not None else None

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_retrieval(self, product) -> dict | None:
        if not product.answers_from_knowledge:
            return None
        config = product.kind_config or {}
        return {name: config.get(name) for name in ("top_k", "threshold", "abstain_text", "handoff")}


class VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    note = serializers.CharField()
    is_live = serializers.SerializerMethodField()
    system_prompt = serializers.CharField()
    prompt_template = serializers.CharField()
    inputs = InputFieldSerializer(source="input_schema", many=True)
    settings = SettingsSerializer()
    base_model = serializers.CharField()
    remote_engine = serializers.CharField(help_text="The operator's remote engine it streams from; empty: this studio.")
    remote_model = serializers.CharField(help_text="The model or adapter name on the remote engine.")
    remote_api_key_set = serializers.SerializerMethodField(help_text="Whether a remote API key is set (never the key).")
    created_at = serializers.DateTimeField()

    def get_remote_api_key_set(self, version) -> bool:
        return bool(version.remote_api_key)

    def get_is_live(self, version) -> bool:
        return version.product.live_version_id == version.pk


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    time_to_first_token_s = serializers.FloatField(allow_null=True)
    duration_s = serializers.FloatField()
    finish_reason = serializers.ChoiceField(choices=["eos", "length", "stop", "cancelled", "error", "time_limit"])


class GenerationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.SlugField(source="product.slug")
    version = serializers.IntegerField(source="version.number", allow_null=True)
    channel = serializers.ChoiceField(choices=["playground", "widget", "api"])
    inputs = serializers.DictField()
    output = serializers.CharField()
    status = serializers.ChoiceField(choices=["running", "finished", "failed"])
    finish_reason = serializers.CharField()
    error = serializers.CharField()
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    time_to_first_token_ms = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    feedback = serializers.ChoiceField(choices=[1, 0, -1], help_text="1 good, -1 bad, 0 none.")
    created_at = serializers.DateTimeField()


class DatasetVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    note = serializers.CharField()
    use = serializers.SerializerMethodField(help_text="What the version is mapped for, as `kind:shape`.")
    column_mapping = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                           help_text="Each field of the use and the file columns that feed it.")
    columns = serializers.ListField(child=serializers.CharField(), source="column_names")
    format = serializers.CharField()
    row_count = serializers.IntegerField()
    validation_count = serializers.IntegerField(help_text="Rows held out from training, to measure fine-tunes.")
    validation_fraction = serializers.FloatField()
    split_seed = serializers.IntegerField()
    verdict = serializers.CharField(help_text="The validation verdict: ready, warnings or unusable.")
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_use(self, version) -> str:
        return f"{version.kind}:{version.shape}"


class DatasetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EvaluationSummarySerializer(serializers.Serializer):
    examples = serializers.IntegerField(help_text="Held-out examples both models were measured on.")
    base_loss = serializers.FloatField()
    tuned_loss = serializers.FloatField()
    base_perplexity = serializers.FloatField()
    tuned_perplexity = serializers.FloatField()
    loss_reduction_percent = serializers.FloatField(help_text="How much lower the tuned model's loss is.")
    scores = serializers.DictField(help_text='BLEU and ROUGE against the references: {"base": {...}, "tuned": {...}}.')
    samples = serializers.ListField(child=serializers.DictField(),
                                    help_text='Side by side: [{"prompt", "base", "tuned", "reference"}].')


class ArtifactSerializer(serializers.Serializer):
    kind = serializers.CharField()
    base_model = serializers.CharField()
    sha256 = serializers.CharField(help_text="SHA-256 of the safetensors weights.")
    size_bytes = serializers.IntegerField()


class TrainingRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.SlugField(source="product.slug")
    dataset = serializers.IntegerField(source="dataset_version.dataset_id", allow_null=True)
    dataset_version = serializers.IntegerField(source="dataset_version.number", allow_null=True)
    base_model = serializers.CharField()
    method = serializers.CharField()
    settings = serializers.DictField(source="hyperparameters", help_text="The settings the run trains with.")
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed", "cancelled"])
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    percent = serializers.IntegerField()
    train_loss = serializers.FloatField(allow_null=True)
    validation_loss = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True, help_text="While running: seconds left, roughly.")
    attempts = serializers.IntegerField(help_text="Times a worker took the run (more than 1 after a lost worker).")
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField(help_text="Why the run failed, in words; empty otherwise.")
    device = serializers.CharField()
    page = serializers.CharField(source="get_absolute_url", help_text="The run's live page in the studio.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    evaluation = serializers.SerializerMethodField()
    artifact = serializers.SerializerMethodField()

    @extend_schema_field(EvaluationSummarySerializer(allow_null=True))
    def get_evaluation(self, run) -> dict | None:
        report = getattr(run, "evaluation", None) if run.status == "succeeded" else None
        return EvaluationSummarySerializer(report).data if report else None

    @extend_schema_field(ArtifactSerializer(allow_null=True))
    def get_artifact(self, run) -> dict | None:
        artifact = getattr(run, "artifact", None) if run.status == "succeeded" else None
        return ArtifactSerializer(artifact).data if artifact else None
