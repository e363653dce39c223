"""Column mapping: guesses from column names, and the table of what each product kind needs."""

from __future__ import annotations

import pytest

from products.datasets.mapping import mapping_guess, purpose_guess
from products.datasets.requirements import all_shapes, kind_labels, shape_get


@pytest.mark.parametrize(
    ("columns", "key", "guess"),
    [
        (["Question", "Answer"], "qa:pairs", {"question": ["Question"], "answer": ["Answer"]}),
        (["product", "features", "description"], "copywriting:examples",
         {"output": ["description"], "inputs": ["product", "features"]}),
        (["message", "category"], "classification:labelled", {"text": ["message"], "label": ["category"]}),
        (["user_id", "item_id", "rating"], "recommendation:interactions",
         {"user": ["user_id"], "item": ["item_id"], "rating": ["rating"]}),
        (["sku", "name", "description", "colour"], "recommendation:catalog",
         {"item": ["sku"], "title": ["name"], "text": ["description", "colour"]}),
    ],
)
def test_purpose_and_mapping_are_guessed_from_column_names(columns, key, guess):
    shape = purpose_guess(columns=columns, shapes=all_shapes())
    assert shape.key == key
    assert mapping_guess(shape=shape, columns=columns) == guess


def test_two_unrecognised_columns_map_in_file_order():
    assert mapping_guess(shape=shape_get("qa", "pairs"), columns=["left", "right"]) == {
        "question": ["left"], "answer": ["right"]
    }


def test_every_kind_the_studio_offers_or_plans_declares_its_dataset_layouts():
    assert {shape.kind for shape in all_shapes()} == set(kind_labels()) == {
        "copywriting", "qa", "classification", "recommendation"
    }


def test_rendered_copywriting_example_shows_the_facts_and_marks_the_learnt_part():
    shape = shape_get("copywriting", "examples")
    blocks = shape.render({"inputs": {"product": "Mug", "features": "350 ml"}, "output": "A cosy mug."})
    assert [(b.label, b.learnt) for b in blocks] == [("System", False), ("User", False), ("Assistant", True)]
    assert blocks[1].text == "Write marketing copy from these facts:\nproduct: Mug\nfeatures: 350 ml"
