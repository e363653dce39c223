"""Reads for “Label a file”: what can label, what can be labelled, and the product's jobs."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from inference.models import LabellingJob
from products.labelling.services import LABELLING_SHAPES
from products.models import DatasetVersion, Product, ProductVersion, Verdict

#: Jobs the page lists (the newest).
JOBS_SHOWN = 20


def labelling_version_choices(*, product: Product) -> QuerySet[ProductVersion]:
    """The product's versions that serve a trained classifier, newest first."""
    return (ProductVersion.objects.filter(product=product, fine_tuned_artifact__kind="classifier")
            .select_related("fine_tuned_artifact").order_by("-number"))


def labelling_dataset_choices(*, product: Product) -> QuerySet[DatasetVersion]:
    """The team's dataset versions of texts (labelled or not) that a classifier can label."""
    return (DatasetVersion.objects.filter(dataset__team_id=product.team_id, kind="classification",
                                          shape__in=LABELLING_SHAPES)
            .exclude(verdict=Verdict.UNUSABLE).select_related("dataset").order_by("dataset__name", "-number"))


def labelling_jobs_for(*, product: Product) -> list[LabellingJob]:
    return list(LabellingJob.objects.filter(product=product)
                .select_related("version", "dataset_version__dataset", "created_by")[:JOBS_SHOWN])


def labelling_job_get(*, product: Product, job_id: int) -> LabellingJob:
    """One of the product's jobs; another product's or team's does not exist for this caller (404)."""
    job = LabellingJob.objects.filter(product=product, pk=job_id).select_related("dataset_version__dataset").first()
    if job is None:
        raise Http404("No such labelling job in this product.")
    return job
