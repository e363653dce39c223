"""Logged generations for the Logs tests, written straight to the table (what the worker would have recorded)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from products.models import Generation, Product


def log(product: Product, output: str, *, inputs: dict[str, Any] | None = None, days_ago: float = 0,
        result: dict[str, Any] | None = None, **fields: Any) -> Generation:
    """One finished generation of ``product`` that said ``output``, ``days_ago`` days ago."""
    recorded = {"status": "finished", "finish_reason": "eos", "tokens_in": 12, "tokens_out": 7,
                "time_to_first_token_ms": 80, "duration_ms": 400} | fields
    generation = Generation.objects.create(
        team_id=product.team_id, product=product, inputs=inputs if inputs is not None else {"product": "Boots"},
        output=output, result=result if result is not None else {"text": output}, **recorded,
    )
    if days_ago:
        Generation.objects.filter(pk=generation.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
        generation.refresh_from_db()
    return generation
