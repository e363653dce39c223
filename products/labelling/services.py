"""Asking for a file to be labelled. Rows only: the label worker (inference/labelling/) does the labelling."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from inference.models import LabellingJob
from inference.protocol import Task
from products.kinds import get_kind
from products.models import DatasetVersion, Product, ProductVersion, Verdict

#: The classification dataset shapes whose texts can be labelled (both have a text column).
LABELLING_SHAPES = ("texts", "labelled")


def labelling_version_check(*, product: Product, version: ProductVersion) -> None:
    """Raise ValidationError, in words, unless ``version`` is one of ``product``'s with a trained classifier."""
    if get_kind(product.kind).task != Task.CLASSIFY:
        raise ValidationError("Only classification products label files.")
    if version.product_id != product.pk:
        raise ValidationError({"version": "Pick one of this product's versions."})
    artifact = version.fine_tuned_artifact
    if artifact is None or artifact.kind != "classifier":
        raise ValidationError({"version": (
            f"Version {version.number} has no trained classifier. Train one on the Fine-tune tab, then "
            "“Create a version with this model” on the finished run, and label with that version."
        )})


def labelling_dataset_check(*, product: Product, dataset_version: DatasetVersion) -> None:
    """Raise ValidationError, in words, unless ``dataset_version`` holds texts this product can label."""
    if dataset_version.dataset.team_id != product.team_id:
        raise ValidationError({"dataset_version": "Pick one of your team's datasets."})
    if dataset_version.kind != "classification" or dataset_version.shape not in LABELLING_SHAPES:
        raise ValidationError({"dataset_version": (
            f"{dataset_version} is not mapped as texts to label. On its dataset page, “Change mapping or split” "
            "→ “Classification: texts to label”, and pick the column that holds the messages."
        )})
    if dataset_version.verdict == Verdict.UNUSABLE:
        raise ValidationError(
            {"dataset_version": f"{dataset_version} cannot be used: fix the problems its report lists."})


@transaction.atomic
def labelling_job_create(*, product: Product, version: ProductVersion, dataset_version: DatasetVersion,
                         user) -> LabellingJob:
    """Queue ``dataset_version``'s texts to be labelled by ``version`` (its trained classifier)."""
    labelling_version_check(product=product, version=version)
    labelling_dataset_check(product=product, dataset_version=dataset_version)
    job = LabellingJob(team_id=product.team_id, product=product, version=version, dataset_version=dataset_version,
                       created_by=user, queue=LabellingJob.LABEL)
    job.full_clean()
    job.save()
    return job
