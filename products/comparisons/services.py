"""Writes a person makes on blind comparisons: start one (its inputs chosen at once), and vote on a pair.

The worker's writes (each pair's outputs, progress, the end) are inference/comparisons.py.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from products.datasets.selectors import dataset_version_examples
from products.kinds import get_kind
from products.kinds.base import example_values
from products.kinds.inputs import InputError
from products.models import (
    Comparison,
    ComparisonPair,
    ComparisonVote,
    DatasetVersion,
    Generation,
    Product,
    ProductVersion,
)
from products.models.comparison import MAX_SIZE, MIN_SIZE

#: Recent generations read to find distinct inputs (a product asked the same thing many times reads more).
RECENT_SCAN = 2000
#: How a voter's side maps to the stored verdict, by whether the left side showed version A.
SIDES = ("left", "right", "tie")
ALREADY_VOTED = "You have already voted on this pair; your first vote stands."


def _fitting(candidates: Iterable[dict[str, Any]], *, versions: tuple[ProductVersion, ProductVersion],
             size: int) -> list[dict[str, Any]]:
    """The first ``size`` distinct candidates both versions' input forms accept, as the inputs they name."""
    kind = get_kind(versions[0].product.kind)
    names = {field.name for version in versions for field in kind.input_fields(version)}
    seen: set[str] = set()

    def accepted() -> Iterator[dict[str, Any]]:
        for candidate in candidates:
            inputs = {name: value for name, value in candidate.items() if name in names}
            key = json.dumps(inputs, sort_keys=True, default=str)
            if not inputs or key in seen:
                continue
            try:
                for version in versions:
                    kind.clean_inputs(version, inputs)
            except InputError:
                continue
            seen.add(key)
            yield inputs

    return list(islice(accepted(), size))


def _input_names(product: Product, version: ProductVersion) -> str:
    fields = get_kind(product.kind).input_fields(version)
    return ", ".join(field.label.lower() for field in fields if field.required) or "none"


def comparison_inputs_choose(
    *, product: Product, versions: tuple[ProductVersion, ProductVersion], source: str,
    dataset_version: DatasetVersion | None, size: int,
) -> list[dict[str, Any]]:
    """The inputs a new comparison asks both versions: held-out rows of a dataset version, or recent real inputs.

    ValidationError (naming the field) when the source gives none both versions accept.
    """
    if source == Comparison.Source.HELD_OUT:
        if dataset_version is None:
            raise ValidationError({"dataset_version": "Pick the dataset version whose held-out rows to use."})
        if dataset_version.dataset.team_id != product.team_id or dataset_version.kind != product.kind:
            raise ValidationError({"dataset_version": "Pick a dataset version prepared for this kind of product."})
        if not dataset_version.validation_count:
            raise ValidationError({"dataset_version": (
                f"{dataset_version} keeps no rows aside (held out): make a version with a validation share, "
                "or compare on recent real inputs.")})
        examples = dataset_version_examples(dataset_version, kind=product.kind, split="validation")
        inputs = _fitting((example_values(example) for example in examples), versions=versions, size=size)
        if not inputs:
            raise ValidationError({"dataset_version": (
                f"None of the held-out rows of {dataset_version} fill this product's inputs "
                f"({_input_names(product, versions[0])}): name the dataset's columns after them, or compare on "
                "recent real inputs.")})
        return inputs
    if source == Comparison.Source.RECENT:
        recent = (
            Generation.objects.filter(product=product, status=Generation.Status.FINISHED)
            .exclude(channel=Generation.Channel.COMPARISON)
            .order_by("-created_at", "-pk").values_list("inputs", flat=True)[:RECENT_SCAN]
        )
        inputs = _fitting(recent.iterator(), versions=versions, size=size)
        if not inputs:
            raise ValidationError({"source": (
                "This product has no finished generations yet whose inputs both versions accept: try it in the "
                "playground first, or compare on held-out rows of a dataset.")})
        return inputs
    raise ValidationError({"source": "Choose held-out rows of a dataset or recent real inputs."})


@transaction.atomic
def comparison_create(
    *, product: Product, version_a: ProductVersion, version_b: ProductVersion, source: str,
    dataset_version: DatasetVersion | None = None, size: int, user: AbstractBaseUser,
) -> Comparison:
    """Queue a blind comparison of two versions of ``product``: its pairs (inputs, random sides) exist at once."""
    if version_a.product_id != product.pk or version_b.product_id != product.pk:
        raise ValidationError({"version_b": "Both versions must be versions of this product."})
    if version_a.pk == version_b.pk:
        raise ValidationError({"version_b": "Pick two different versions."})
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValidationError({"size": f"Compare on {MIN_SIZE} to {MAX_SIZE} inputs."})
    kind = get_kind(product.kind)
    if not kind.available:
        raise ValidationError(f"{kind.name} products cannot answer yet in this studio.")
    inputs = comparison_inputs_choose(product=product, versions=(version_a, version_b), source=source,
                                      dataset_version=dataset_version, size=size)
    comparison = Comparison(
        team_id=product.team_id, product=product, version_a=version_a, version_b=version_b, source=source,
        dataset_version=dataset_version if source == Comparison.Source.HELD_OUT else None, size=size,
        created_by=user, queue=Comparison.QUEUE, pairs_total=len(inputs),
    )
    comparison.full_clean()
    comparison.save()
    ComparisonPair.objects.bulk_create([
        # secrets, not random: which side shows A must not be guessable from earlier pairs.
        ComparisonPair(comparison=comparison, position=position, inputs=values, left_is_a=secrets.randbelow(2) == 1)
        for position, values in enumerate(inputs, start=1)
    ])
    return comparison


def vote_choice(*, pair: ComparisonPair, side: str) -> str:
    """The stored verdict (a, b or tie) for the side a voter pressed on this pair's page."""
    if side not in SIDES:
        raise ValidationError("Choose Left, Right or Tie.")
    if side == "tie":
        return ComparisonVote.Choice.TIE
    return ComparisonVote.Choice.A if (side == "left") == pair.left_is_a else ComparisonVote.Choice.B


@transaction.atomic
def comparison_vote_cast(*, pair: ComparisonPair, user: AbstractBaseUser, side: str) -> ComparisonVote:
    """Record ``user``'s verdict on ``pair``; a second vote on the same pair is refused (the first one stands)."""
    if not pair.is_ready:
        raise ValidationError("This pair has no outputs to compare.")
    vote = ComparisonVote(pair=pair, user=user, choice=vote_choice(pair=pair, side=side))
    if ComparisonVote.objects.filter(pair=pair, user=user).exists():
        raise ValidationError(ALREADY_VOTED)
    vote.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():  # the unique constraint settles two tabs voting at the same moment
            vote.save()
    except IntegrityError:
        raise ValidationError(ALREADY_VOTED) from None
    return vote
