"""A recommender version's business rules: what they say, whether they fit its catalog, which items they leave out.

The rules live in the version's kind_config (products/kinds/recommendation.py checks their shape); the column
rule ("in_stock = no") names a column of the catalog the version's model was trained on, so saving checks it
against that catalog here, and the worker's rank runner asks here which items it leaves out.
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from inference.models import TrainingRunInput
from products.datasets.selectors import stored_rows
from products.models import DatasetVersion

if TYPE_CHECKING:
    from inference.models import ModelArtifact

RULE_HELP = "Write the column rule as “column = value”, e.g. “in_stock = no”."


def where_parse(text: str) -> tuple[str, str] | None:
    """("column", "value") of a rule written “column = value”; None for an empty rule; ValidationError otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    column, sep, value = text.partition("=")
    column, value = column.strip(), value.strip()
    if not sep or not column or not value:
        raise ValidationError({"kind_config": f"“{text}” is not a rule the studio can read. {RULE_HELP}"})
    return column, value


def catalog_for_run(*, run_id: int) -> DatasetVersion | None:
    """The catalog dataset version a recommender run trained on (the items its model knows)."""
    entry = (
        TrainingRunInput.objects.filter(run_id=run_id, role=TrainingRunInput.Role.CATALOG)
        .select_related("dataset_version")
        .first()
    )
    return entry.dataset_version if entry else None


def where_check(*, artifact: ModelArtifact | None, where: str) -> None:
    """Refuse a column rule naming a column the version's catalog does not have, naming the columns it has."""
    parsed = where_parse(where)
    if parsed is None:
        return
    catalog = catalog_for_run(run_id=artifact.run_id) if artifact is not None else None
    if catalog is None:
        raise ValidationError(
            {
                "kind_config": "A column rule needs a trained recommender to know the catalog's "
                "columns: train one and make a version from the run first."
            }
        )
    columns = catalog.column_names
    if parsed[0] not in columns:
        raise ValidationError(
            {"kind_config": f"The catalog {catalog} has no column “{parsed[0]}”; its columns are {', '.join(columns)}."}
        )


def _catalog_rows(catalog: DatasetVersion):
    """(item id, row) of every catalog row that has an id, streamed."""
    id_column = ((catalog.column_mapping or {}).get("item") or [""])[0]
    with closing(stored_rows(catalog)) as rows:
        for _, row in rows:
            item = (row.get(id_column) or "").strip()
            if item:
                yield item, row


def catalog_ids(*, catalog: DatasetVersion) -> set[str]:
    return {item for item, _ in _catalog_rows(catalog)}


def catalog_ids_where(*, catalog: DatasetVersion, column: str, value: str) -> list[str]:
    """Ids of the catalog's items whose ``column`` is ``value`` (case and spaces around it ignored), streamed."""
    wanted = value.strip().lower()
    return [item for item, row in _catalog_rows(catalog) if (row.get(column) or "").strip().lower() == wanted]
