"""Recommenders: items from a catalog for a customer, a browsing session or one item, each with its reason.

A recommendation product learns from two datasets, a catalog (items with their text) and interactions
(who bought, viewed or rated what): "Train recommender" runs the ``recommender`` training method
(inference/training/recommender/: implicit's ALS, MiniLM embeddings of the catalog text, a hybrid of the
two with a validated weight, popularity last), and the version made from the run serves its artifact
through the worker's rank runner (inference/runners/rank.py). A version's business rules (items never
to recommend, by id or by a catalog column's value, one category only, items boosted or pinned first) are its
kind_config (products/recommendations/rules.py), and so is ``catalog_version``: a newer catalog the version
recommends from (“Use the new catalog”, products/recommendations/services.py), whose items the model has not
seen the worker embeds and serves by their descriptions until the next training. ``pitch``
(“Write a one-sentence pitch per item”, off by default) has the worker's rank runner write one sentence for
each of the top PITCH_ITEMS items with the version's base model, streamed after the list itself.

The result: ``{"items": [{"id", "title", "score" (0–1), "reason", "image"?, "link"?, "pitch"?}], "fallback"?:
words, "pitch_error"?: words}``, ``fallback`` saying why the list is not personal (an unknown customer, a short
history), ``pitch_error`` why the pitches stopped (the items still come).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError

from inference.protocol import InferenceRequest, Task
from products.datasets.shapes import Block, Need, Shape, facts
from products.kinds.base import InputError, InputField, PrepareContext, PrepareRefused, ProductKind, ProductTemplate
from products.kinds.inputs import clean_inputs
from products.kinds.registry import register
from products.recommendations.rules import catalog_for_run, catalog_ids, where_check, where_parse

if TYPE_CHECKING:
    from products.models.product import ProductConfig

DEFAULT_K = 10
MAX_K = 50
#: Items a session may name at most (the widget sends what the visitor viewed).
MAX_SESSION_ITEMS = 50
MAX_ID_CHARS = 200
MAX_PINNED = 5
MAX_BOOSTED = 50
#: The id-list rules of a version, with their labels for messages.
ID_RULES = {"exclude": "Never recommend", "boost": "Boost", "pin": "Pin first"}
#: Items the language model writes a pitch for (the top ones): each is a few dozen tokens of a CPU model.
PITCH_ITEMS = 3
PITCH_CHOICES = ("No", "Yes")

NOT_TRAINED = (
    "Train the recommender first: Datasets → upload a catalog (item id, name, description) and interactions "
    "(user, item, optionally rating and time), then this product's Train tab → Train recommender, then "
    "“Create a version with this model” on the finished run."
)


def _k_input() -> InputField:
    return InputField("k", "How many", type="number", minimum=1, maximum=MAX_K, default=DEFAULT_K, required=False,
                      help_text=f"Items to recommend, 1 to {MAX_K}.")


QUERY_NAMES = ("user", "items", "item")
QUERY_FIELDS = (
    InputField("user", "Customer id", required=False, max_length=MAX_ID_CHARS,
               help_text="A user id of your interactions file."),
    InputField("items", "Viewed items", required=False, max_length=MAX_SESSION_ITEMS * (MAX_ID_CHARS + 2),
               help_text="Item ids viewed in this session, separated by commas."),
    InputField("item", "Item id", required=False, max_length=MAX_ID_CHARS,
               help_text="One item, for items similar to it."),
)


def split_ids(value: Any) -> list[str]:
    """Item ids from a list or from text separated by commas or new lines, in order, without repeats."""
    parts = value if isinstance(value, list | tuple) else str(value or "").replace("\n", ",").split(",")
    seen: list[str] = []
    for part in parts:
        text = str(part).strip()
        if text and text not in seen:
            seen.append(text)
    return seen


def _render_catalog(example: dict[str, Any]) -> list[Block]:
    title = example.get("title")
    return [Block(f"Item {example['item']}" + (f": {title}" if title else ""), facts(example["text"]))]


def _render_interaction(example: dict[str, Any]) -> list[Block]:
    text = f"User {example['user']} → item {example['item']}"
    if example.get("rating"):
        text += f", rating {example['rating']}"
    if example.get("timestamp"):
        text += f", at {example['timestamp']}"
    return [Block("Interaction", text)]


#: (kind, path) per artifact id: artifacts never change, and a version cannot lose the one it serves (RESTRICT).
_ARTIFACTS: dict[int, tuple[str, str, int | None]] = {}


def _artifact(artifact_id: int | None) -> tuple[str, str, int | None] | None:
    """(kind, path, run id) of a version's model, read once per artifact, so a request after the first costs no
    query."""
    if artifact_id is None:
        return None
    found = _ARTIFACTS.get(artifact_id)
    if found is None:
        from inference.models import ModelArtifact

        found = ModelArtifact.objects.filter(pk=artifact_id).values_list("kind", "path", "run_id").first()
        if found is not None:
            _ARTIFACTS[artifact_id] = found
    return found


#: The catalog version each artifact learnt from (None: a model that names none), read once per artifact.
_CATALOGS: dict[int, int | None] = {}


def _trained_catalog(artifact_id: int) -> int | None:
    if artifact_id not in _CATALOGS:
        from inference.models import TrainingRunInput

        _CATALOGS[artifact_id] = (TrainingRunInput.objects.filter(run__artifact__pk=artifact_id,
                                                                  role=TrainingRunInput.Role.CATALOG)
                                  .values_list("dataset_version_id", flat=True).first())
    return _CATALOGS[artifact_id]


@register
class Recommendation(ProductKind):
    id = "recommendation"
    name = "Recommendations"
    description = "Recommends items from your catalog for a customer, an item or a browsing session, with reasons."
    task = Task.RANK
    trainer = "recommender"
    evaluation_metrics = ("recall_at_10", "ndcg_at_10", "coverage", "examples")
    # Empty: the Train tab offers both shapes (interactions and a catalog); training_run_create checks each.
    training_shapes = ()
    result_template = "products/kinds/items_result.html"
    renderer = "products/renderers/items.js"
    # A ranked list is not a chat message: /v1/chat/completions answers 400 naming the REST route.
    openai_compatible = False
    max_variants = 1  # the same query ranks the same way
    config_fields = (
        InputField("exclude", "Never recommend", required=False, max_length=5_000,
                   help_text="Item ids to leave out (out of stock, discontinued), separated by commas."),
        InputField("exclude_where", "Never recommend where", required=False, max_length=200,
                   help_text="A catalog column and the value that leaves an item out, e.g. “in_stock = no”."),
        InputField("category", "Only this category", required=False, max_length=100,
                   help_text="Recommend only items of this category (the catalog's category column); "
                             "empty: every category."),
        InputField("boost", "Boost", required=False, max_length=2_000,
                   help_text=f"Item ids to rank higher (up to {MAX_BOOSTED}), separated by commas; their reason "
                             "says the shop promotes them."),
        InputField("pin", "Pin first", required=False, max_length=2_000,
                   help_text=f"Item ids shown first, in this order (up to {MAX_PINNED}), marked “Pinned by the "
                             "shop”; never one the customer already has or the rules leave out."),
        InputField("pitch", "Write a one-sentence pitch per item", type="choice", choices=PITCH_CHOICES,
                   default="No", required=False,
                   help_text=f"The base language model writes one sentence for each of the top {PITCH_ITEMS} items "
                             "from its name and description, shown under its card as it is written. The list "
                             "itself never waits for it."),
    )
    templates = (
        ProductTemplate(
            id="similar-items", name="Customers also bought",
            description="Items similar to one item, for a product page: “customers who chose this also chose …”.",
            inputs=(InputField("item", "Item id", max_length=MAX_ID_CHARS,
                               help_text="The id of an item in your catalog, e.g. its SKU."), _k_input()),
            message_input="item",
        ),
        ProductTemplate(
            id="picked-for-you", name="Picked for you",
            description="Personal recommendations for one of your customers, from what they bought or viewed.",
            inputs=(InputField("user", "Customer id", max_length=MAX_ID_CHARS,
                               help_text="A user id of your interactions file."), _k_input()),
            # The widget knows the visitor's session, not their customer id: its message is the viewed items.
            message_input="items",
        ),
        ProductTemplate(
            id="because-you-viewed", name="Because you viewed",
            description="Recommendations for an anonymous visitor from the items viewed in this session.",
            inputs=(InputField("items", "Viewed items", max_length=MAX_SESSION_ITEMS * (MAX_ID_CHARS + 2),
                               help_text="Item ids the visitor viewed, separated by commas, e.g. “B12, B40”."),
                    _k_input()),
            message_input="items",
        ),
    )
    dataset_shapes = (
        Shape(
            "recommendation", "catalog", "Recommendations: catalog of items",
            "Each row is one item you can recommend, with the text that describes it.",
            (
                Need("item", "Item id", "A unique id for the item, e.g. SKU.",
                     synonyms=("item", "itemid", "id", "sku", "productid", "product")),
                Need("title", "Item name", "Optional: the item's name, shown in recommendations.", required=False,
                     synonyms=("title", "name")),
                Need("category", "Category", "Optional: a category a version can limit recommendations to.",
                     required=False, synonyms=("category", "section", "department", "genre")),
                Need("image", "Image URL", "Optional: a picture shown on the recommendation card.", required=False,
                     synonyms=("image", "imageurl", "picture", "photo", "thumbnail")),
                Need("link", "Link", "Optional: the item's page, linked from the card.", required=False,
                     synonyms=("link", "url", "pageurl", "href")),
                Need("text", "Item text", "The columns that describe the item.", multiple=True, takes_rest=True),
            ),
            _render_catalog,
        ),
        Shape(
            "recommendation", "interactions", "Recommendations: interactions",
            "Each row says a user bought, viewed or rated an item.",
            (
                Need("user", "User", "Who interacted.",
                     synonyms=("user", "userid", "customer", "customerid", "visitor")),
                Need("item", "Item", "What they interacted with.",
                     synonyms=("item", "itemid", "product", "productid", "sku")),
                Need("rating", "Rating", "Optional: how much they liked it.", required=False,
                     synonyms=("rating", "score", "stars")),
                Need("timestamp", "Time", "Optional: when it happened.", required=False,
                     synonyms=("timestamp", "time", "date", "datetime", "createdat")),
            ),
            _render_interaction,
        ),
    )

    def input_fields(self, config: ProductConfig) -> list[InputField]:
        """The template's inputs, plus the other two ways to ask (optional), so every product answers all three."""
        fields = super().input_fields(config)
        names = {field.name for field in fields}
        return fields + [field for field in QUERY_FIELDS if field.name not in names]

    def clean_inputs(self, config: ProductConfig, data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        if isinstance(data.get("items"), list | tuple):  # the REST API sends a list; the forms send text
            data["items"] = ", ".join(str(item) for item in data["items"])
        fields = [InputField(**{**f.__dict__, "required": False}) if f.name in QUERY_NAMES else f
                  for f in self.input_fields(config)]
        cleaned = clean_inputs(fields, data)
        if not any(cleaned.get(name) for name in QUERY_NAMES):
            main = next((f for f in super().input_fields(config) if f.name in QUERY_NAMES), QUERY_FIELDS[0])
            raise InputError({main.name: f"{main.label} is required (or send “user”, “items” or “item”)."})
        if cleaned.get("items"):
            items = split_ids(cleaned["items"])
            if len(items) > MAX_SESSION_ITEMS:
                raise InputError({"items": f"Name at most {MAX_SESSION_ITEMS} viewed items (this names {len(items)})."})
            cleaned["items"] = items
        return cleaned

    def clean_config(self, kind_config: dict[str, Any]) -> dict[str, Any]:
        config = dict(kind_config or {})
        for name, label in ID_RULES.items():
            raw = str(config.get(name) or "")
            ids = split_ids(raw)
            if raw.strip() and not ids:
                raise ValidationError({"kind_config": f"“{label}” names no item id: write ids separated by commas, "
                                                      "or leave it empty."})
            if any(len(item) > MAX_ID_CHARS for item in ids):
                raise ValidationError({"kind_config": f"An item id in “{label}” is longer than {MAX_ID_CHARS} "
                                                      "characters; separate ids with commas."})
            config[name] = ", ".join(ids)
        for name, most in (("pin", MAX_PINNED), ("boost", MAX_BOOSTED)):
            if len(split_ids(config[name])) > most:
                raise ValidationError({"kind_config": f"“{ID_RULES[name]}” names {len(split_ids(config[name]))} "
                                                      f"items; a version can have at most {most}."})
        config["exclude_where"] = str(config.get("exclude_where") or "").strip()
        where_parse(config["exclude_where"])
        config["category"] = str(config.get("category") or "").strip()[:100]
        config["pitch"] = "Yes" if config.get("pitch") in ("Yes", True) else "No"
        return config

    def check_config(self, config: ProductConfig) -> None:
        """The column rule must name a column of the trained catalog, and pins and boosts items of it."""
        rules = config.kind_config or {}
        where_check(artifact=config.fine_tuned_artifact, where=rules.get("exclude_where") or "")
        named = {name: split_ids(rules.get(name) or "") for name in ("pin", "boost")}
        if config.fine_tuned_artifact is None or not any(named.values()):
            return
        catalog = catalog_for_run(run_id=config.fine_tuned_artifact.run_id)
        if catalog is None:
            return
        known = catalog_ids(catalog=catalog)
        for name, ids in named.items():
            unknown = [item for item in ids if item not in known]
            if unknown:
                raise ValidationError({"kind_config": f"“{ID_RULES[name]}” names {', '.join(unknown)}, not in the "
                                                      f"catalog {catalog}: check the ids."})

    def prepare(self, config: ProductConfig, inputs: dict[str, Any], context: PrepareContext) -> InferenceRequest:
        artifact = _artifact(config.fine_tuned_artifact_id)
        if artifact is None or artifact[0] != "recommender":
            raise PrepareRefused("not_trained", NOT_TRAINED)
        query: dict[str, Any] = {"k": int(inputs.get("k") or DEFAULT_K)}
        for name in ("user", "item", "items"):
            if inputs.get(name) not in (None, "", []):
                query[name] = inputs[name]
        rules = config.kind_config or {}
        for name in ID_RULES:
            query[name] = split_ids(rules.get(name) or "")
        query["category"] = str(rules.get("category") or "")
        if rules.get("catalog_version"):  # “Use the new catalog”: the worker adds the items the model has not seen
            query["catalog_version"] = int(rules["catalog_version"])
        where = where_parse(rules.get("exclude_where") or "")
        if where is not None:  # the worker reads which items it leaves out from the run's catalog
            query["exclude_where"] = {"column": where[0], "value": where[1], "run": artifact[2]}
        if rules.get("pitch") == "Yes":  # the worker reads the items' descriptions from this catalog version
            catalog = query.get("catalog_version") or _trained_catalog(config.fine_tuned_artifact_id)
            query["pitch"] = {"model": config.base_model, "count": PITCH_ITEMS, "catalog": catalog}
        return InferenceRequest(task=self.task, model="recommender",
                                artifact=str(Path(settings.MEDIA_ROOT) / artifact[1]), query=query,
                                remote=config.remote_request() if "pitch" in query else None)

    def result_text(self, result: dict[str, Any]) -> str:
        return ", ".join(str(item.get("title", "")) for item in result.get("items", []))
