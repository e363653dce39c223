"""Copy built for a small model: worked examples as earlier turns, one-line templates, sentence endings,
and the checks that say which facts a piece of copy used (products/kinds/copy_checks.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from products.kinds import copy_checks
from products.kinds.base import PrepareContext
from products.kinds.registry import get_kind
from products.models import Product

KIND = get_kind("copywriting")


def _product(template_id: str, **changes) -> Product:
    template = KIND.template(template_id)
    fields = {"kind": "copywriting", "template_id": template_id, "system_prompt": template.system_prompt,
              "prompt_template": template.prompt_template, "kind_config": KIND.clean_config(template.kind_config),
              "input_schema": [field.to_dict() for field in template.inputs], **changes}
    return Product(**fields)


def _prepare(product: Product, inputs: dict):
    template = KIND.template(product.template_id)
    return KIND.prepare(product, KIND.clean_inputs(product, inputs), PrepareContext(settings=template.settings))


def test_a_description_is_asked_for_after_worked_examples_written_through_the_same_prompt():
    request = _prepare(_product("product-description"), {"product": "Oak table", "features": "Solid oak\nMade in Lyon"})

    system, *examples, asked = request.messages
    assert system["role"] == "system" and "invent nothing" in system["content"]
    assert [m["role"] for m in examples] == ["user", "assistant"] * 3
    assert examples[0] == {"role": "user", "content": (
        "Product: Hiking backpack\nFacts:\n30 litres\nWaterproof zips\nPadded hip belt\nMade in Italy"
        "\n\nWrite a friendly product description for hikers: one opening sentence, then one sentence "
        "that starts with each fact, in the same order, then one short closing sentence.")}
    assert examples[1]["content"].startswith("Meet the hiking backpack. 30 litres of room hold")
    assert asked == {"role": "user", "content": (
        "Product: Oak table\nFacts:\nSolid oak\nMade in Lyon\n\nWrite a friendly product description for everyone: "
        "one opening sentence, then one sentence that starts with each fact, in the same order, then one short "
        "closing sentence.")}
    # Greedy, with the loop-breaking penalty that greedy would otherwise go without, ending on a sentence.
    assert request.params["temperature"] == 0.0 and request.params["repetition_penalty"] == 1.1
    assert request.params["end_on_sentence"] is True and "stop" not in request.params


def test_each_worked_description_starts_a_sentence_with_each_of_its_facts_in_order():
    """What the prompt asks for, shown: the model copies the pattern of its examples more than their words."""
    for example in KIND.template("product-description").kind_config["examples"]:
        sentences = example["output"].split(". ")
        facts = example["inputs"]["features"].splitlines()
        starts = [next(i for i, sentence in enumerate(sentences) if sentence.lower().startswith(
            fact.lower().split()[0])) for fact in facts]
        assert starts == sorted(starts) and len(sentences) == len(facts) + 2, example["inputs"]["product"]


def test_the_worked_description_with_as_many_facts_as_the_product_is_sent_last():
    """The model writes as many fact sentences as the last example has: four features follow a four-fact example."""
    def last_example(features: str) -> str:
        *_, last_example_reply, _asked = _prepare(_product("product-description"), {"features": features}).messages
        return last_example_reply["content"]

    assert last_example("Merino wool\n130 x 170 cm\nWoven in Wales").startswith("Say hello to the ceramic coffee mug.")
    assert last_example("Natural rubber\n6 mm thick\nNon-slip surface\nCarry strap included").startswith(
        "Introducing the office chair.")


def test_an_edited_prompt_that_uses_an_input_the_example_lacks_sends_no_example():
    product = _product("product-description", prompt_template="Describe {product} for {audience}. {features}",
                       input_schema=[*_product("product-description").input_schema])
    assert [m["role"] for m in _prepare(product, {"features": "Solid oak"}).messages] == [
        "system", *["user", "assistant"] * 3, "user"]
    product.prompt_template = "Describe {product} in {colour}. {features}"
    product.input_schema = [*product.input_schema, {"name": "colour", "label": "Colour", "required": False}]
    assert [m["role"] for m in _prepare(product, {"features": "Solid oak"}).messages] == ["system", "user"]


def test_headlines_and_subject_lines_stop_at_the_end_of_their_line():
    for template_id in ("ad-headlines", "email-subject-lines"):
        inputs = {"product": "Kettle", "benefit": "tea in 3 minutes", "email_about": "A sale"}
        request = _prepare(_product(template_id), inputs)
        assert request.params["stop"] == ["\n"] and "end_on_sentence" not in request.params


@pytest.mark.parametrize("kind_config, message", [
    ({"one_line": "yes"}, "“One line” must be true or false."),
    ({"examples": [{"inputs": "x", "output": "y"}]}, "Examples must be a list of at most 3 {inputs, output} pairs."),
    ({"examples": [{"inputs": {}, "output": "y"}] * 4}, "Examples must be a list of at most 3 {inputs, output} pairs."),
])
def test_bad_copy_settings_are_refused_with_what_to_fix(kind_config, message):
    with pytest.raises(ValidationError) as refused:
        KIND.clean_config(kind_config)
    assert refused.value.message_dict == {"kind_config": [message]}


def test_a_feature_counts_as_used_when_its_numbers_and_names_appear_and_most_of_its_words_by_stem():
    [weight, place] = copy_checks.required_facts("product-description", {"features": "Weighs 280 g\n- Made in Lyon"})
    assert copy_checks.mentions(weight, "It weighs only 280 g.")
    assert not copy_checks.mentions(weight, "It weighs only 300 g.")
    assert copy_checks.mentions(place, "Proudly made in Lyon.")
    assert not copy_checks.mentions(place, "Proudly made in France.")


def test_a_feature_said_in_another_inflection_or_with_its_hyphen_dropped_still_counts():
    inputs = {"features": "Folds flat\nCarry strap included\nHand-oiled finish\nCuts heating bills by up to 20%"}
    folds, strap, finish, bills = copy_checks.required_facts("product-description", inputs)
    assert copy_checks.mentions(folds, "The headphones fold flat into the case.")
    assert copy_checks.mentions(strap, "A carrying strap is included.")
    assert copy_checks.mentions(finish, "Its hand oiled finish glows.")
    assert copy_checks.mentions(bills, "It cuts your heating bills by up to 20 percent.")
    assert not copy_checks.mentions(bills, "It cuts your heating bills by up to 25%.")


def test_numbers_and_acronyms_must_appear_as_whole_words_and_a_longer_word_is_no_stem_match():
    inputs = {"features": "Available in 5 colours\nUSB-C charging\nWaterproof\nSizes XS to XL"}
    colours, charging, waterproof, sizes = copy_checks.required_facts("product-description", inputs)
    assert copy_checks.mentions(colours, "Available in 5 colours.")
    assert not copy_checks.mentions(colours, "It weighs 250 g and comes in many colours.")  # "5" is not "250"
    assert charging.names == ("USB-C",) and not copy_checks.mentions(charging, "Fast charging.")
    assert copy_checks.mentions(charging, "It charges over usb-c.")
    assert not copy_checks.mentions(waterproof, "A water filter comes with it.")
    assert copy_checks.mentions(waterproof, "It is fully waterproofed.")
    assert not copy_checks.mentions(sizes, "Sizes S to L.") and copy_checks.mentions(sizes, "In sizes XS to XL.")


def test_every_shipped_worked_example_uses_every_fact_it_was_given_and_invents_nothing():
    """The model copies its examples: an example that paraphrases a fact away teaches it to drop facts."""
    for template in KIND.templates:
        examples = template.kind_config["examples"]
        assert examples, template.id
        for example in examples:
            facts = copy_checks.required_facts(template.id, example["inputs"])
            missing = [fact.text for fact in facts if not copy_checks.mentions(fact, example["output"])]
            assert facts and missing == [], (template.id, missing)
            assert copy_checks.invented(example["output"], example["inputs"]) == []
            assert copy_checks.ends_cleanly(example["output"], short=template.kind_config.get("one_line", False))


def test_a_headline_must_carry_the_product_and_the_benefit():
    facts = copy_checks.required_facts("ad-headlines", {"product": "Trail shoes", "benefit": "dry feet"})
    assert all(copy_checks.mentions(f, "Trail shoes for dry feet") for f in facts)
    assert not all(copy_checks.mentions(f, "Trail shoes for everyone") for f in facts)


def test_made_up_links_hashtags_handles_and_dates_are_found_unless_the_inputs_gave_them():
    inputs = {"topic": "Free refills from Monday at cafe.com"}
    text = "Free refills from Monday! Visit cafe.com or shop.com #coffee @barista, until 12/05 2024."
    assert copy_checks.invented(text, inputs) == ["shop.com", "#coffee", "@barista", "12/05", "2024"]
    assert copy_checks.ends_cleanly(text) and not copy_checks.ends_cleanly("It was made in")
    assert copy_checks.ends_cleanly("Trail shoes for dry feet", short=True)


@pytest.mark.django_db
def test_the_playground_says_which_facts_each_recent_description_used(owner_client):
    from django.urls import reverse

    from products.services import generation_create, generation_finish, product_create

    team = owner_client.team
    product = product_create(team=team, user=owner_client.user, kind_id="copywriting",
                             template_id="product-description")
    generation = generation_create(product=product, version=None, channel="playground", user=owner_client.user,
                                   inputs={"product": "Kettle", "features": "Boils in 3 minutes\nMade in Lyon"})
    text = "It boils in 3 minutes."
    generation_finish(generation_id=generation.pk, output=text, result={"text": text}, finish_reason="eos",
                      tokens_in=5, tokens_out=6, time_to_first_token_s=0.1, duration_s=0.5)

    page = owner_client.get(reverse("playground", args=[team.slug, product.slug])).content.decode()

    assert "Facts used: 1 of 2 · missing: “Made in Lyon”" in page
