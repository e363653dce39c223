"""Fixtures for classifier tests: a ticket-routing product and small labelled datasets from the shipped sample."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.datasets.seed import SAMPLES_DIR
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.services import product_create

#: A run small enough for a CPU test: one epoch over ~45 short texts.
TINY_CLASSIFIER = {"epochs": 1, "batch_size": 8, "max_length": 32, "learning_rate": 1e-4}


def sample_rows(labels=("shipping", "billing", "account"), per_label: int = 20) -> list[tuple[str, str]]:
    """The first ``per_label`` texts of each label of the shipped support-tickets sample."""
    with (SAMPLES_DIR / "support_tickets.csv").open(newline="") as handle:
        rows = [(row["message"], row["category"]) for row in csv.DictReader(handle)]
    picked = []
    for label in labels:
        picked += [row for row in rows if row[1] == label][:per_label]
    return picked


def labelled_csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["message", "category"])
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def router(make_team):
    """(team, owner, classification product) of a team called Helpdesk."""
    team = make_team("Helpdesk")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="classification", template_id="support-routing",
                             name="Router")
    return team, owner, product


@pytest.fixture
def make_labelled_version(router):
    def make(rows=None, *, fraction: float = 0.25, team=None, user=None, name="Tickets"):
        team_, owner, _ = router
        upload = dataset_upload_create(
            team=team or team_, user=user or owner, name=name,
            file=SimpleUploadedFile("tickets.csv", labelled_csv(rows if rows is not None else sample_rows()),
                                    content_type="text/csv"),
        )
        return dataset_version_create(
            source=upload, user=user or owner, kind="classification", shape="labelled",
            column_mapping={"text": ["message"], "label": ["category"]}, validation_fraction=fraction,
        )

    return make


def publish_trained_version(*, product, user, dataset_version, artifact: Path, media_root: Path):
    """Register ``artifact`` as a succeeded run's model (no training), make a version of it and publish it."""
    from django.utils import timezone

    from inference.models import ModelArtifact, TrainingRun
    from inference.training.artifacts import sha256_of
    from products.services import product_version_publish
    from products.training.services import product_version_create_from_run, training_run_create

    run = training_run_create(product=product, dataset_version=dataset_version, user=user)
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now())
    relative = f"training/artifacts/run-{run.pk}"
    (media_root / relative).parent.mkdir(parents=True, exist_ok=True)
    (media_root / relative).symlink_to(artifact, target_is_directory=True)
    ModelArtifact.objects.create(team=product.team, run=run, kind="classifier", base_model="all-minilm-l6-v2",
                                 path=relative, sha256=sha256_of(artifact / "model.safetensors"), size_bytes=1,
                                 metadata={"labels": ["account", "billing", "shipping"]})
    version = product_version_create_from_run(run=TrainingRun.objects.get(pk=run.pk), user=user)
    product_version_publish(product=product, version=version)
    return version


def build_classifier_artifact(folder: Path) -> Path:
    """A real MiniLM classifier in ``folder`` (the frozen encoder and a logistic-regression head on 60 tickets)."""
    import numpy as np
    from django.conf import settings
    from sklearn.linear_model import LogisticRegression

    from inference.registry import EMBEDDING_MODEL_ID, model_path
    from inference.training.classifier.model import (
        ClassifierMeta,
        embeddings_of,
        encode,
        init_head,
        load_tokenizer,
        new_classifier,
        save_classifier,
    )
    from inference.training.classifier.report import head_from_baseline

    encoder_dir = model_path(Path(settings.MODELS_DIR), EMBEDDING_MODEL_ID)
    rows = sample_rows(labels=("account", "billing", "shipping"), per_label=20)
    labels = sorted({label for _, label in rows})
    tokenizer = load_tokenizer(encoder_dir)
    model = new_classifier(encoder_dir, len(labels), seed=0)
    ids = encode(tokenizer, [text for text, _ in rows], max_length=64)
    x = embeddings_of(model, ids, batch_size=32, pad_id=0, device="cpu").numpy()
    y = np.array([labels.index(label) for _, label in rows])
    weight, bias = head_from_baseline(LogisticRegression(C=10, max_iter=2000).fit(x, y), len(labels), x.shape[1])
    init_head(model, weight, bias)
    save_classifier(model, folder=folder, model_dir=encoder_dir,
                    meta=ClassifierMeta(labels=labels, temperature=1.0, max_length=64, encoder=EMBEDDING_MODEL_ID))
    return folder


@pytest.fixture(scope="session")
def classifier_artifact(tmp_path_factory) -> Path:
    """``build_classifier_artifact``, built once a session."""
    return build_classifier_artifact(tmp_path_factory.mktemp("classifier"))
