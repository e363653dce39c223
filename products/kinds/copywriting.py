"""Marketing copy: product descriptions, ad headlines, social posts, email subject lines."""

from __future__ import annotations

from typing import Any

from products.datasets.shapes import Block, Need, Shape, facts
from products.kinds.base import InputField, ProductTemplate, TextGenerationKind
from products.kinds.registry import register
from products.kinds.settings import GenerationSettings

TONES = ("friendly", "professional", "playful", "luxurious", "bold")
SYSTEM = "You are an expert marketing copywriter. Write clear, vivid, honest copy. Reply with the copy only."

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
                "Write a {tone} product description aimed at {audience}.\n"
                "Product: {product}\n"
                "Key features:\n{features}"
            ),
            settings=GenerationSettings(creativity=0.7, length=160, variants=1),
            # A shop's visitor describes what they sell: the message is the facts.
            message_input="features",
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
            prompt_template="Write one {tone} ad headline, under 10 words, for {product}. Main benefit: {benefit}.",
            settings=GenerationSettings(creativity=0.9, length=24, variants=3),
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
            prompt_template="Write a {tone} {platform} post announcing: {topic}",
            settings=GenerationSettings(creativity=0.8, length=120, variants=1),
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
                "Write one email subject line of at most {max_words} words for {audience}. "
                "The email is about: {email_about}"
            ),
            settings=GenerationSettings(creativity=0.9, length=24, variants=3),
        ),
    )
