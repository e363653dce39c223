"""A recommender's two datasets read together: the catalog's items, the interactions, and what is wrong with them.

Pure Python (the web tier's pre-flight and the worker's trainer both read through here, so the page and
the run refuse the same rows with the same words). Rows are streamed with their line numbers, so a
problem names the line a person can find in their file.
"""

from __future__ import annotations

import math
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field

from products.datasets.selectors import stored_rows
from products.models import DatasetVersion

#: Lines named in one message at most (the count says how many more).
SHOWN_LINES = 8
#: Characters of an item's text embedded (MiniLM reads 256 tokens at most).
MAX_ITEM_CHARS = 1_000
#: Interactions per second of the three ALS fits on one core, and seconds per catalog item for embedding it
#: with MiniLM and scoring it in the evaluation: tests/benchmarks/bench_recommender.py on the dev machine's two
#: busy cores (1M interactions × 100k items: 687 s for the fits and the evaluation; 1,120 × 63: under 20 s).
INTERACTIONS_PER_SECOND = 4_000.0
EMBED_SECONDS_PER_ITEM = 0.008
FIXED_SECONDS = 15.0


@dataclass(frozen=True)
class CatalogItem:
    id: str
    title: str
    text: str
    category: str = ""
    image: str = ""
    link: str = ""


@dataclass(frozen=True)
class Interaction:
    user: str
    item: str
    rating: float
    timestamp: str
    line: int


@dataclass
class RecommenderData:
    """Both datasets as the trainer needs them, with the summary the pre-flight shows and the problems found."""

    items: list[CatalogItem]
    interactions: list[Interaction]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_item_lines: list[int] = field(default_factory=list)

    @property
    def users(self) -> int:
        return len({row.user for row in self.interactions})

    @property
    def items_without_interactions(self) -> int:
        seen = {row.item for row in self.interactions}
        return sum(1 for item in self.items if item.id not in seen)

    @property
    def sparsity(self) -> float:
        """Share of the user × item grid with no interaction (0.99 = 1 % filled)."""
        cells = self.users * len(self.items)
        pairs = len({(row.user, row.item) for row in self.interactions})
        return 1.0 - pairs / cells if cells else 1.0

    @property
    def expected_seconds(self) -> float:
        return (FIXED_SECONDS + len(self.interactions) / INTERACTIONS_PER_SECOND
                + len(self.items) * EMBED_SECONDS_PER_ITEM)


def item_text(item: CatalogItem) -> str:
    """What MiniLM reads of an item: its name, category and description (the trainer and the worker alike)."""
    parts = [item.title, item.category, item.text]
    return ". ".join(p for p in parts if p)[:MAX_ITEM_CHARS]


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:SHOWN_LINES])
    more = len(lines) - SHOWN_LINES
    return shown + (f" and {more} more" if more > 0 else "")


def _column(version: DatasetVersion, name: str) -> str | None:
    columns = (version.column_mapping or {}).get(name) or []
    return columns[0] if columns else None


def _catalog(version: DatasetVersion, problems: list[str]) -> list[CatalogItem]:
    mapping = version.column_mapping or {}
    id_col, title_col = _column(version, "item"), _column(version, "title")
    extra = {name: _column(version, name) for name in ("category", "image", "link")}
    text_cols = [c for c in mapping.get("text", []) if c not in (id_col, title_col, *extra.values())]
    items: list[CatalogItem] = []
    first_line: dict[str, int] = {}
    duplicates: dict[str, list[int]] = {}
    with closing(stored_rows(version)) as rows:
        for line, row in rows:
            item_id = (row.get(id_col or "", "") or "").strip()
            if not item_id:
                continue
            if item_id in first_line:
                duplicates.setdefault(item_id, [first_line[item_id]]).append(line)
                continue
            first_line[item_id] = line
            title = (row.get(title_col or "", "") or "").strip() or item_id
            text = ". ".join(v.strip() for c in text_cols if (v := row.get(c) or "").strip())
            items.append(CatalogItem(item_id, title, text or title,
                                     **{name: (row.get(col or "", "") or "").strip() for name, col in extra.items()}))
    if duplicates:
        named = "; ".join(f"“{item}” on lines {_lines(lines)}" for item, lines in list(duplicates.items())[:3])
        more = f" ({len(duplicates)} ids in all)" if len(duplicates) > 3 else ""
        problems.append(f"The catalog {version} uses the same item id more than once: {named}{more}. Each item "
                        "needs its own id; fix the file and upload it as a new version.")
    return items


def catalog_items(version: DatasetVersion) -> tuple[list[CatalogItem], list[str]]:
    """A catalog version's items in file order, and its problems (duplicate ids) in words."""
    problems: list[str] = []
    return _catalog(version, problems), problems


def recommender_data(*, catalog: DatasetVersion, interactions: DatasetVersion) -> RecommenderData:
    """Read both versions; ``problems`` (refuse training) and ``warnings`` (train anyway) name what to fix."""
    problems: list[str] = []
    items = _catalog(catalog, problems)
    known = {item.id for item in items}
    user_col, item_col = _column(interactions, "user"), _column(interactions, "item")
    rating_col, time_col = _column(interactions, "rating"), _column(interactions, "timestamp")
    rows: list[Interaction] = []
    unknown: list[int] = []
    bad_ratings: list[int] = []
    with closing(stored_rows(interactions)) as stream:
        for line, row in stream:
            user = (row.get(user_col or "", "") or "").strip()
            item = (row.get(item_col or "", "") or "").strip()
            if not user or not item:
                continue
            rating = 1.0
            raw = (row.get(rating_col, "") or "").strip() if rating_col else ""
            if raw:
                try:
                    rating = float(raw)
                except ValueError:
                    rating = math.nan
                if not math.isfinite(rating):
                    bad_ratings.append(line)
                    continue
            if item not in known:
                unknown.append(line)
                continue
            rows.append(Interaction(user, item, rating, (row.get(time_col, "") or "").strip() if time_col else "",
                                    line))
    data = RecommenderData(items, rows, problems, unknown_item_lines=unknown)
    if bad_ratings:
        problems.append(f"Ratings must be numbers (like 4 or 4.5); the “{rating_col}” column of {interactions} has "
                        f"something else on line{'s' if len(bad_ratings) > 1 else ''} {_lines(bad_ratings)}. "
                        "Fix those cells (or map no rating column) and upload a new version.")
    if unknown:
        data.warnings.append(
            f"{len(unknown)} interaction{'s' if len(unknown) > 1 else ''} name{'' if len(unknown) > 1 else 's'} "
            f"items that are not in the catalog {catalog} (line{'s' if len(unknown) > 1 else ''} {_lines(unknown)}); "
            "training leaves them out. Add those items to the catalog to use them.")
    if not rows and not bad_ratings:
        problems.append(f"No interaction of {interactions} names an item of the catalog {catalog}: check that both "
                        "use the same item ids.")
    elif rows and data.users < 2:
        problems.append(f"Every interaction of {interactions} is by the same user (“{rows[0].user}”). A recommender "
                        "learns from what different people chose: add interactions of at least two users.")
    if len(items) < 2:
        problems.append(f"The catalog {catalog} has {len(items)} item{'' if len(items) == 1 else 's'}; a recommender "
                        "needs at least two to choose between.")
    return data


def interaction_counts(data: RecommenderData) -> Counter:
    """Interactions per item id (popularity, as the pre-flight and the trainer count it)."""
    return Counter(row.item for row in data.interactions)
