from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse

from inference.registry import DEFAULT_MODEL_ID, EMBEDDING_MODEL_ID


class LeasedJob(models.Model):
    """A job that is its own database row: ``status`` is the queue; ``worker`` and the lease say who holds it.

    Concrete jobs (TrainingRun now; index builds and batch labelling next) inherit it and share one claim,
    heartbeat and sweep implementation (inference/jobs.py) and one worker loop (``LeasedJobWorker``).
    ``queue`` keeps short jobs from waiting behind long ones: each queue has workers of its own.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    #: Jobs of minutes to hours (a fine-tune of a language model).
    LONG = "long"
    #: Jobs of seconds to a few minutes (an index build, a batch of labels, a classifier head).
    SHORT = "short"

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    queue = models.CharField(
        max_length=40, default=LONG, help_text="Workers serve a list of queues; a job waits only for its own queue's."
    )
    priority = models.SmallIntegerField(default=0, help_text="Higher is claimed first within a queue.")
    created_at = models.DateTimeField(auto_now_add=True)
    worker = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class TrainingRun(LeasedJob):
    """A training job: a LoRA fine-tune, a classifier head or a recommender. The row is the job (see LeasedJob).

    ``dataset_version`` is the primary input: the examples a LoRA or classifier run learns from, the
    interactions a recommender learns from. Kinds that need more than one dataset add the others as
    TrainingRunInput rows, each with its role (a recommender's catalog, say). The progress fields are what
    the run page shows.
    """

    class Method(models.TextChoices):
        LORA = "lora", "LoRA (small adapter on top of the base model)"
        CLASSIFIER = "classifier", "Classifier (a classification head on the encoder)"
        RECOMMENDER = "recommender", "Recommender (collaborative filtering and content embeddings)"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="training_runs")
    product = models.ForeignKey(
        "products.Product", on_delete=models.CASCADE, related_name="training_runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    # What to train. Null only for rows made before fine-tuning existed; every new run names one.
    # RESTRICT: a version a run learnt from cannot be deleted, unless the run goes too (the team is deleted).
    dataset_version = models.ForeignKey(
        "products.DatasetVersion", on_delete=models.RESTRICT, null=True, related_name="training_runs"
    )
    base_model = models.CharField(max_length=120, default=DEFAULT_MODEL_ID)
    method = models.CharField(max_length=12, choices=Method.choices, default=Method.LORA)
    hyperparameters = models.JSONField(default=dict, help_text="See products/training/hyperparameters.py.")
    prompt_config = models.JSONField(
        default=dict, help_text="The product's prompt when the run was started: what the model learns to answer."
    )
    # The demo team's sample classifier answers on first run with no click: its run publishes its model.
    publish_on_success = models.BooleanField(
        default=False, help_text="Make a version from the trained model and publish it when the run succeeds."
    )

    # Progress, written by the worker as it goes.
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    train_examples = models.PositiveIntegerField(default=0)
    validation_examples = models.PositiveIntegerField(default=0)
    train_loss = models.FloatField(null=True, blank=True)
    validation_loss = models.FloatField(null=True, blank=True)
    tokens_seen = models.PositiveBigIntegerField(default=0)
    seconds_per_step = models.FloatField(null=True, blank=True)
    checkpoint_step = models.PositiveIntegerField(default=0, help_text="Step of the last complete checkpoint.")
    resumed_from_step = models.PositiveIntegerField(null=True, blank=True)
    device = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "training run"
        indexes = [
            models.Index(fields=["status", "queue", "priority", "created_at"], name="training_run_queue"),
            models.Index(fields=["status", "lease_expires_at"], name="training_run_lease"),
        ]

    def __str__(self) -> str:
        return f"Training run {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("training_run", kwargs={"team_slug": self.team.slug, "run_id": self.pk})

    @property
    def percent(self) -> int:
        return round(100 * self.step / self.total_steps) if self.total_steps else 0

    @property
    def eta_seconds(self) -> float | None:
        if self.status != self.Status.RUNNING or not self.seconds_per_step or not self.total_steps:
            return None
        return max(self.total_steps - self.step, 0) * self.seconds_per_step


class TrainingRunInput(models.Model):
    """An extra input dataset version of a run, with its role; the primary one is ``TrainingRun.dataset_version``."""

    class Role(models.TextChoices):
        CATALOG = "catalog", "Catalog (items with their text)"
        INTERACTIONS = "interactions", "Interactions (user, item, optional rating and time)"
        LABELLED_TEXTS = "labelled-texts", "Labelled texts (text and label)"

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="inputs")
    role = models.CharField(max_length=20, choices=Role.choices)
    # RESTRICT, as for the primary input: a version a run learnt from cannot be deleted while the run exists.
    dataset_version = models.ForeignKey(
        "products.DatasetVersion", on_delete=models.RESTRICT, related_name="training_run_inputs"
    )

    class Meta:
        ordering = ["run", "role"]
        constraints = [models.UniqueConstraint(fields=["run", "role"], name="training_run_input_one_per_role")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} of run {self.run_id}"


class TrainingMetric(models.Model):
    """One point of a run's loss curve: the training loss (averaged since the last point) or the validation loss."""

    class Split(models.TextChoices):
        TRAIN = "train", "Training"
        VALIDATION = "validation", "Validation"

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    split = models.CharField(max_length=12, choices=Split.choices)
    step = models.PositiveIntegerField()
    loss = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["step", "split"]
        constraints = [
            models.UniqueConstraint(fields=["run", "split", "step"], name="training_metric_one_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.split} loss {self.loss:.3f} at step {self.step}"


class TrainingLogEntry(models.Model):
    """A line of the run's log, in plain words, for the run page."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="log_entries")
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "training log entries"

    def __str__(self) -> str:
        return self.message


class ModelArtifact(models.Model):
    """The result of a successful run: its files (safetensors, or GGUF) under MEDIA_ROOT, with their hash."""

    class Kind(models.TextChoices):
        LORA_ADAPTER = "lora-adapter", "LoRA adapter"
        CLASSIFIER = "classifier", "Classifier"
        RECOMMENDER = "recommender", "Recommender"
        GGUF = "gguf", "GGUF model (merged, for llama.cpp)"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="model_artifacts")
    run = models.OneToOneField(TrainingRun, on_delete=models.CASCADE, related_name="artifact")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LORA_ADAPTER)
    base_model = models.CharField(max_length=120)
    path = models.CharField(max_length=255, help_text="Folder relative to MEDIA_ROOT.")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the weights file.")
    size_bytes = models.PositiveBigIntegerField()
    files = models.JSONField(default=list, help_text='[{"name", "size", "sha256"}] of every file in the folder.')
    metadata = models.JSONField(
        default=dict, blank=True,
        help_text='What serving needs besides the weights, by kind: {"labels": [...]} for a classifier, '
                  '{"items": ..., "users": ...} id maps for a recommender.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Fine-tuned model from run {self.run_id}"

    @property
    def directory(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.path


class EvaluationReport(models.Model):
    """A run's evaluation on held-out rows: the baseline against the trained model, with samples.

    ``metrics`` holds the kind's own measures (its trainer names them): ``{"base": {...}, "tuned": {...}}``
    with loss, perplexity, BLEU and ROUGE for a LoRA run; accuracy, per-class precision/recall/F1 and the
    confusion matrix for a classifier; recall@k and NDCG@k against popularity for a recommender. The loss
    and perplexity columns are a LoRA run's only (null for the others).
    """

    run = models.OneToOneField(TrainingRun, on_delete=models.CASCADE, related_name="evaluation")
    examples = models.PositiveIntegerField(help_text="Held-out examples the measures were taken on.")
    metrics = models.JSONField(default=dict, blank=True, help_text='{"base": {name: value}, "tuned": {...}}')
    base_loss = models.FloatField(null=True, blank=True)
    tuned_loss = models.FloatField(null=True, blank=True)
    base_perplexity = models.FloatField(null=True, blank=True)
    tuned_perplexity = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict, help_text='{"base": {"bleu", "rouge1", "rougeL"}, "tuned": {...}}')
    samples = models.JSONField(default=list, help_text='[{"prompt", "base", "tuned", "reference"}]')
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Evaluation of run {self.run_id}"

    @property
    def loss_reduction_percent(self) -> float | None:
        """How much lower (negative: higher) the tuned model's loss is than the base model's, in percent.

        None for a run without losses (a classifier or a recommender).
        """
        if self.base_loss is None or self.tuned_loss is None:
            return None
        return 100 * (self.base_loss - self.tuned_loss) / self.base_loss if self.base_loss else 0.0


class KnowledgeIndex(LeasedJob):
    """A Q&A knowledge base made searchable: one per dataset version of documents or FAQ pairs. The row is the job.

    Built on its own queue (``INDEX``) so it never waits behind a fine-tune. Succeeded means servable; a
    product version points at a dataset version, and so at exactly one index: re-indexing a newer dataset
    version makes a new row and never touches the one a live version answers from.
    """

    #: Index builds have workers of their own.
    INDEX = "index"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="knowledge_indexes")
    # RESTRICT: a dataset version that was indexed stays while its index does (the team going takes both).
    dataset_version = models.OneToOneField(
        "products.DatasetVersion", on_delete=models.RESTRICT, related_name="knowledge_index"
    )
    embedding_model = models.CharField(max_length=120, default=EMBEDDING_MODEL_ID)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "knowledge index"
        verbose_name_plural = "knowledge indexes"
        indexes = [
            models.Index(fields=["status", "queue", "priority", "created_at"], name="knowledge_index_queue"),
            models.Index(fields=["status", "lease_expires_at"], name="knowledge_index_lease"),
        ]

    def __str__(self) -> str:
        return f"Knowledge index {self.pk}"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.SUCCEEDED

    @property
    def progress_percent(self) -> int:
        if self.is_ready:
            return 100
        return min(99, round(100 * self.chunks_done / self.chunks_total)) if self.chunks_total else 0


class KnowledgeChunk(models.Model):
    """One passage of a knowledge base as the worker searches it: its text and its MiniLM embedding."""

    index = models.ForeignKey(KnowledgeIndex, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField(help_text="Order within the index; ties a chunk to its embedding row.")
    title = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    source_row = models.PositiveIntegerField(help_text="The data row (1-based) of the dataset file it came from.")
    embedding = models.BinaryField(help_text="float16 little-endian, the embedding model's dimensions.")

    class Meta:
        ordering = ["index", "position"]
        constraints = [
            models.UniqueConstraint(fields=["index", "position"], name="knowledge_chunk_position"),
        ]

    def __str__(self) -> str:
        return f"Chunk {self.position} of index {self.index_id}"


class LabellingJob(LeasedJob):
    """A whole file labelled by a classifier version: a dataset version's texts in, a CSV of labels out.

    The row is the job, on its own queue (``LABEL``) so a big file never waits behind a fine-tune or an
    index build. The result file is written only when every row is labelled: a worker lost half-way leaves
    nothing, and whoever claims the job next labels the file from the start (seconds to a few minutes).
    """

    #: Labelling jobs have workers of their own.
    LABEL = "label"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="labelling_jobs")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="labelling_jobs")
    version = models.ForeignKey(
        "products.ProductVersion", on_delete=models.CASCADE, related_name="labelling_jobs",
        help_text="The classifier version that labels the file.",
    )
    # RESTRICT: a dataset version that was labelled stays while its job does (the team going takes both).
    dataset_version = models.ForeignKey(
        "products.DatasetVersion", on_delete=models.RESTRICT, related_name="labelling_jobs"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    label_counts = models.JSONField(default=dict, blank=True, help_text='{"billing": 41, "unsure": 3}')
    compared = models.PositiveIntegerField(default=0, help_text="Rows whose file already had a label.")
    agreed = models.PositiveIntegerField(default=0, help_text="Of those, rows the classifier labelled the same.")
    output = models.FileField(upload_to="labelling/", blank=True, help_text="The labelled CSV, once finished.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "labelling job"
        indexes = [
            models.Index(fields=["status", "queue", "priority", "created_at"], name="labelling_job_queue"),
            models.Index(fields=["status", "lease_expires_at"], name="labelling_job_lease"),
        ]

    def __str__(self) -> str:
        return f"Labelling job {self.pk}"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return min(99, round(100 * self.rows_done / self.rows_total)) if self.rows_total else 0

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


class KnowledgeEvaluation(LeasedJob):
    """A Q&A product's retrieval measured on a dataset of test questions: recall@k, abstention, misses.

    The row is the job, on its own queue (``EVALUATE``), served by a thread of the index worker process (see
    inference/knowledge/worker.py). It runs the answer runner's own retrieval (hybrid search, the best dense
    cosine against the threshold) on ``index`` with the ``threshold`` and ``top_k`` of ``version`` (or of the
    draft when it was asked for): retrieval only, no answer is written. One KnowledgeEvaluationResult per
    question, stored a batch at a time, so a worker lost half-way leaves results the next one continues from.
    """

    #: Evaluations have a worker thread of their own (in the index worker process).
    EVALUATE = "evaluate"
    #: Passages retrieved per question: recall is measured at 1, 3 and 5.
    RETRIEVED = 5

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="knowledge_evaluations")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="knowledge_evaluations")
    version = models.ForeignKey(
        "products.ProductVersion", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="The saved version evaluated; empty for the draft.",
    )
    index = models.ForeignKey(KnowledgeIndex, on_delete=models.CASCADE, related_name="evaluations")
    # RESTRICT: the test questions an evaluation was measured on stay while it does (the team going takes both).
    test_version = models.ForeignKey(
        "products.DatasetVersion", on_delete=models.RESTRICT, related_name="knowledge_evaluations"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    threshold = models.FloatField(help_text="The evaluated “how sure before answering” (the draft's when asked for).")
    top_k = models.PositiveSmallIntegerField(help_text="The evaluated passages to use (the draft's when asked for).")
    questions_total = models.PositiveIntegerField(default=0)
    questions_done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True,
                               help_text="The figures the report shows (inference/knowledge/evaluation.py).")
    suggested_threshold = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "knowledge evaluation"
        indexes = [
            models.Index(fields=["status", "queue", "priority", "created_at"], name="knowledge_eval_queue"),
            models.Index(fields=["status", "lease_expires_at"], name="knowledge_eval_lease"),
        ]

    def __str__(self) -> str:
        return f"Knowledge evaluation {self.pk}"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return min(99, round(100 * self.questions_done / self.questions_total)) if self.questions_total else 0


class KnowledgeEvaluationResult(models.Model):
    """One test question of an evaluation: what was expected, what retrieval found, and whether it abstained."""

    evaluation = models.ForeignKey(KnowledgeEvaluation, on_delete=models.CASCADE, related_name="results")
    row = models.PositiveIntegerField(help_text="The data row (1-based) of the test questions' file.")
    question = models.TextField()
    expected = models.TextField(blank=True)
    should_answer = models.BooleanField(default=True)
    best_score = models.FloatField(help_text="Best dense cosine over the whole index (what abstention compares).")
    abstained = models.BooleanField()
    found_rank = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1-based rank of the first retrieved passage matching the expected text.")
    retrieved = models.JSONField(default=list, help_text='[{"title", "text", "score", "source_row"}] in fused order.')
    earlier = models.TextField(
        blank=True, help_text="The user's earlier turns of a follow-up question, one per line (empty: asked alone).")

    class Meta:
        ordering = ["evaluation", "row"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "row"], name="knowledge_eval_result_row")]

    def __str__(self) -> str:
        return f"Row {self.row} of evaluation {self.evaluation_id}"
