"""The schemas every new kind's training shares: extra input datasets by role, kind-specific reports and artifacts."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError
from django.urls import reverse
from django.utils import timezone

from inference.models import EvaluationReport, ModelArtifact, TrainingRun, TrainingRunInput

pytestmark = pytest.mark.django_db


def test_a_run_takes_one_extra_input_per_role_and_keeps_its_versions_from_deletion(make_run, make_dataset_version):
    run = make_run()
    catalog = make_dataset_version(name="Catalog")
    TrainingRunInput.objects.create(run=run, role=TrainingRunInput.Role.CATALOG, dataset_version=catalog)
    assert [(i.role, i.dataset_version_id) for i in run.inputs.all()] == [("catalog", catalog.pk)]
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRunInput.objects.create(run=run, role=TrainingRunInput.Role.CATALOG, dataset_version=catalog)
    with pytest.raises(RestrictedError):
        catalog.delete()
    assert run.inputs.count() == 1


def test_a_report_without_losses_keeps_its_kind_metrics_and_the_run_page_shows_no_loss_sentence(
    client, shop, make_run
):
    team, owner, _ = shop
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(method=TrainingRun.Method.CLASSIFIER, status="succeeded",
                                                 finished_at=timezone.now())
    ModelArtifact.objects.create(team_id=run.team_id, run=run, base_model="all-minilm-l6-v2", path="training/c",
                                 sha256="cd" * 32, size_bytes=10, kind=ModelArtifact.Kind.CLASSIFIER,
                                 metadata={"labels": ["billing", "shipping"]})
    report = EvaluationReport.objects.create(
        run=run, examples=4, metrics={"base": {"accuracy": 0.5}, "tuned": {"accuracy": 0.75}},
    )
    assert (report.base_loss, report.loss_reduction_percent) == (None, None)
    assert ModelArtifact.objects.get(run=run).metadata == {"labels": ["billing", "shipping"]}
    client.force_login(owner)
    page = client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert "On 4 held-out examples the model never trained on:" in page
    assert '<th scope="row">Validation loss</th>' not in page and "the tuned model's loss" not in page


def test_new_kinds_methods_and_artifact_kinds_are_choices():
    assert {"lora", "classifier", "recommender"} <= set(TrainingRun.Method.values)
    assert {"lora-adapter", "classifier", "recommender", "gguf"} <= set(ModelArtifact.Kind.values)
    assert set(TrainingRunInput.Role.values) == {"catalog", "interactions", "labelled-texts"}
