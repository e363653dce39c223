"""Marketing copy: product descriptions, ad headlines, social posts, email subject lines."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from inference.protocol import InferenceRequest
from products.datasets.shapes import Block, Need, Shape, facts
from products.kinds.base import InputField, PrepareContext, ProductTemplate, TextGenerationKind
from products.kinds.prompts import TemplateError, render_prompt, template_placeholders
from products.kinds.registry import register
from products.kinds.settings import GenerationSettings

if TYPE_CHECKING:
    from products.models.product import ProductConfig

TONES = ("friendly", "professional", "playful", "luxurious", "bold")
# A 135M model copies what it is shown better than it follows advice: the rules are short and every
# template carries a worked example (kind_config["examples"]), sent as an earlier turn of the chat.
SYSTEM = (
    "You are a careful marketing copywriter. Use every fact you are given and invent nothing: no names, "
    "prices, dates, links, hashtags or handles that are not in the facts. Reply with the copy only."
)
MAX_EXAMPLES = 3

PRODUCT_NAME = InputField("product", "Product name", help_text="What you sell, e.g. “Trail running shoes”.",
                          max_length=120)
AUDIENCE = InputField("audience", "Audience", required=False, default="everyone",
                      help_text="Who it is for, e.g. “busy parents”.", max_length=120)
TONE = InputField("tone", "Tone", type="choice", choices=TONES, default="friendly")


def _render_example(example: dict[str, Any]) -> list[Block]:
    return [
        Block("System", SYSTEM),
        Block("User", "Write marketing copy from these facts:\n" + facts(example["inputs"])),
        Block("Assistant", example["output"], learnt=True),
    ]


EXAMPLES = Shape(
    "copywriting", "examples", "Marketing copy: facts → finished copy",
    "Each row is one piece of finished copy and the facts it was written from.",
    (
        Need("inputs", "Facts (inputs)", "The columns the copy was written from, e.g. name and features.",
             multiple=True, takes_rest=True),
        Need("output", "Finished copy (output)", "The text the model learns to write.",
             synonyms=("description", "output", "copy", "completion", "response", "text", "body", "content")),
    ),
    _render_example,
)


def _example(inputs: dict[str, Any], output: str) -> dict[str, Any]:
    return {"inputs": inputs, "output": output}


def _lines(value: Any) -> int:
    return len([line for line in str(value or "").splitlines() if line.strip()])


def examples_nearest_last(examples: list[dict[str, Any]], inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """``examples`` with those whose inputs have about as many lines, input by input, as ``inputs`` moved to the end.

    A 135M model writes as many fact sentences as the last example has facts: after a three-fact
    example it dropped the fourth feature of most products, after a four-fact one it borrowed a fourth
    fact for three-feature products. The sort is stable, so among equally near examples the shipped
    order stands, and inputs of one line each (a headline's) keep it entirely.
    """
    def distance(example: dict[str, Any]) -> int:
        given = example["inputs"]
        return sum(abs(_lines(given.get(name)) - _lines(inputs.get(name))) for name in {*given, *inputs})

    return sorted(examples, key=lambda example: -distance(example))


@register
class Copywriting(TextGenerationKind):
    id = "copywriting"
    name = "Marketing copy"
    description = "Writes product descriptions, ad headlines, social posts and email subject lines in your voice."
    result_template = "products/kinds/copywriting_result.html"
    dataset_shapes = (EXAMPLES,)
    templates = (
        ProductTemplate(
            id="product-description",
            name="Product description",
            description="A persuasive description for a shop page, from a name and a few features.",
            inputs=(
                InputField("product", "Product name", required=False, max_length=120,
                           help_text="What you sell, e.g. “Trail running shoes”. Optional when the features say it."),
                InputField("features", "Key features", type="paragraph",
                           help_text="A few facts, one per line: materials, size, what makes it special."),
                AUDIENCE,
                TONE,
            ),
            system_prompt=SYSTEM,
            prompt_template=(
                "Product: {product}\nFacts:\n{features}\n\n"
                "Write a {tone} product description for {audience}: one opening sentence, then one sentence that "
                "starts with each fact, in the same order, then one short closing sentence."
            ),
            # Greedy: sampling is what made a 135M model drop facts; 180 tokens leave room for five or six
            # facts before the sentence-ending wind-down (at 70 % of the length) starts.
            settings=GenerationSettings(creativity=0.0, length=180, variants=1),
            # A shop's visitor describes what they sell: the message is the facts.
            message_input="features",
            widget={"placeholder": "Your product's facts…",
                    "greeting": "Tell me what you sell: a few facts about it, one per line (Shift+Enter for a new "
                                "line), and I will write its shop description."},
            # Each sentence of an example starts with one fact as given (copy_checks must find every one):
            # a 135M model copies how its examples treat facts, and one that paraphrases a fact away
            # teaches it to drop facts. The last example is the one copied most, down to its number of
            # facts, so the one nearest the product's number of facts is sent last (examples_nearest_last):
            # the three-fact mug for three features, else the chair, whose warranty and closing the model
            # sometimes borrows (the mug's closing fits any product, but then four features lost one).
            kind_config={"examples": [
                _example(
                    {"product": "Ceramic coffee mug", "features": "Holds 350 ml\nDishwasher safe\nHand-glazed",
                     "audience": "coffee lovers", "tone": "playful"},
                    "Say hello to the ceramic coffee mug. Holds 350 ml, enough for a proper morning cup. Dishwasher "
                    "safe, so cleaning up takes no time. Hand-glazed, so no two look the same. Order yours today.",
                ),
                _example(
                    {"product": "Hiking backpack",
                     "features": "30 litres\nWaterproof zips\nPadded hip belt\nMade in Italy",
                     "audience": "hikers", "tone": "friendly"},
                    "Meet the hiking backpack. 30 litres of room hold everything a day out needs. Waterproof zips "
                    "keep your kit dry when the weather turns. Padded hip belt takes the weight off your shoulders. "
                    "Made in Italy, it is built to last. Pack it and go.",
                ),
                _example(
                    {"product": "Office chair",
                     "features": "Mesh back\nAdjustable armrests\nSeat height 42 to 52 cm\nFive-year warranty",
                     "audience": "home workers", "tone": "professional"},
                    "Introducing the office chair. Mesh back keeps you cool through a long day. Adjustable armrests "
                    "hold your arms at the right height. Seat height 42 to 52 cm suits any desk. Five-year warranty "
                    "comes with every chair. Work in comfort.",
                ),
            ]},
        ),
        ProductTemplate(
            id="ad-headlines",
            name="Ad headline variants",
            description="Short, punchy headlines for search or social ads; compare several side by side.",
            inputs=(
                PRODUCT_NAME,
                InputField("benefit", "Main benefit", help_text="The one thing a buyer gets, e.g. “dry feet”.",
                           max_length=200),
                TONE,
            ),
            system_prompt=SYSTEM,
            prompt_template=(
                "Write one {tone} ad headline of under 10 words for {product}. It must say the main benefit: {benefit}."
            ),
            settings=GenerationSettings(creativity=0.5, length=24, variants=3),
            # With one example ("…: light on your back, all day long") the model added ", all day long" to
            # most headlines and dropped the product or the benefit of 3 in 20: two plain examples, no tail.
            kind_config={"one_line": True, "examples": [
                _example({"product": "Rain jacket", "benefit": "stay dry in any storm", "tone": "friendly"},
                         "Rain jacket: stay dry in any storm"),
                _example({"product": "Hiking backpack", "benefit": "light on your back", "tone": "bold"},
                         "Hiking backpack: light on your back"),
            ]},
        ),
        ProductTemplate(
            id="social-post",
            name="Social media post",
            description="A post for LinkedIn, Instagram or X announcing something.",
            inputs=(
                InputField("topic", "What to announce", type="paragraph", max_length=1000),
                InputField("platform", "Platform", type="choice", choices=("LinkedIn", "Instagram", "X"),
                           default="LinkedIn"),
                TONE,
            ),
            system_prompt=SYSTEM,
            prompt_template=(
                "News: {topic}\n\nWrite a {tone} {platform} post of 2 sentences that announces this news and "
                "repeats every fact in it."
            ),
            settings=GenerationSettings(creativity=0.3, length=90, variants=1),
            kind_config={"examples": [_example(
                {"topic": "Our bakery opens on Mill Road, free croissants for the first 50 visitors",
                 "platform": "Instagram", "tone": "friendly"},
                "Big news: our bakery opens on Mill Road! The first 50 visitors get a free croissant, so come "
                "early and say hello.",
            )]},
        ),
        ProductTemplate(
            id="email-subject-lines",
            name="Email subject lines",
            description="Subject lines that get opened, for a newsletter or campaign.",
            inputs=(
                InputField("email_about", "What the email is about", type="paragraph", max_length=1000),
                AUDIENCE,
                InputField("max_words", "Maximum words", type="number", minimum=3, maximum=15, default=8,
                           required=False),
            ),
            system_prompt=SYSTEM,
            prompt_template=(
                "Write the subject line of an email for {audience}, at most {max_words} words, on one line. "
                "The email is about: {email_about}\nReply with the subject line only."
            ),
            settings=GenerationSettings(creativity=0.5, length=24, variants=3),
            # With one example the model added its tail (", this week only") to every subject, even a new
            # store's opening; it copies any addition (an example's "at home" and "Good news:" turned up on
            # most subjects), so the examples add nothing to their email's subject.
            kind_config={"one_line": True, "examples": [
                _example({"email_about": "15% off all hiking boots this week", "audience": "customers",
                          "max_words": 8}, "15% off all hiking boots this week"),
                _example({"email_about": "Our new podcast episode on saving energy", "audience": "subscribers",
                          "max_words": 8}, "New podcast episode: saving energy"),
                _example({"email_about": "Your order has been delivered", "audience": "customers", "max_words": 8},
                         "Your order has been delivered"),
            ]},
        ),
    )

    def clean_config(self, kind_config: dict[str, Any]) -> dict[str, Any]:
        config = dict(kind_config or {})
        if not isinstance(config.get("one_line", False), bool):
            raise ValidationError({"kind_config": "“One line” must be true or false."})
        examples = config.get("examples", [])
        if not isinstance(examples, list) or len(examples) > MAX_EXAMPLES or not all(
            isinstance(e, dict) and isinstance(e.get("inputs"), dict) and isinstance(e.get("output"), str)
            for e in examples
        ):
            raise ValidationError({"kind_config": (
                f"Examples must be a list of at most {MAX_EXAMPLES} {{inputs, output}} pairs."
            )})
        return config

    def example_turns(self, config: ProductConfig, inputs: dict[str, Any] | None = None) -> list[dict[str, str]]:
        """The version's worked examples as earlier chat turns, rendered through its own prompt template.

        An example that lacks an input the (edited) template now uses is left out rather than sent with
        a visible ``{placeholder}``. With ``inputs``, the example nearest to them in size is sent last
        (``examples_nearest_last``).
        """
        try:
            needed = template_placeholders(config.prompt_template)
        except TemplateError:
            return []
        examples = (config.kind_config or {}).get("examples", [])
        if inputs is not None:
            examples = examples_nearest_last(examples, inputs)
        turns: list[dict[str, str]] = []
        for example in examples:
            if not needed <= set(example["inputs"]):
                continue
            turns += [{"role": "user", "content": render_prompt(config.prompt_template, example["inputs"])},
                      {"role": "assistant", "content": example["output"]}]
        return turns

    def generation_params(
        self, settings: GenerationSettings, kind_config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = super().generation_params(settings, kind_config)
        if (kind_config or {}).get("one_line"):
            params["stop"] = ["\n"]  # a headline or subject line is one line; the next line is a second try
        else:
            params["end_on_sentence"] = True
            # Greedy prose from a 135M model falls into loops ("Bamboo toothbrush. Bamboo toothbrush.");
            # the penalty counts generated tokens only, so repeating a fact from the prompt costs nothing.
            params["repetition_penalty"] = max(params["repetition_penalty"], 1.1)
        return params

    def prepare(self, config: ProductConfig, inputs: dict[str, Any], context: PrepareContext) -> InferenceRequest:
        request = super().prepare(config, inputs, context)
        messages = list(request.messages or [])
        at = 1 if messages and messages[0]["role"] == "system" else 0
        messages[at:at] = self.example_turns(config, inputs)
        return dataclasses.replace(request, messages=messages)  # keeps every other field (a remote engine too)
