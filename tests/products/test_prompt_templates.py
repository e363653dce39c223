"""Prompt templates (products/kinds/prompts.py): plain {name} placeholders only, rendered without str.format."""

from __future__ import annotations

import pytest

from inference.engines.base import GenerationParams
from products.kinds import all_kinds, get_kind
from products.kinds.base import InputError, render_prompt
from products.kinds.prompts import (
    ENGINE_MAX_PROMPT_TOKENS,
    PromptTooLong,
    TemplateError,
    prompt_char_limit,
    template_placeholders,
    validate_template,
)


def _refusal(template: str) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        template_placeholders(template)
    return caught.value


@pytest.mark.parametrize(("template", "message"), [
    ("Copy for {product:x>100000000}",
     "The prompt has {product:x>100000000} at line 1, column 10: a format spec (:x>100000000) is not allowed; "
     "write {product} only."),
    ("Copy for {product:zz}",
     "The prompt has {product:zz} at line 1, column 10: a format spec (:zz) is not allowed; write {product} only."),
    ("{product!r}", "The prompt has {product!r} at line 1, column 1: a conversion (!r) is not allowed; "
                    "write {product} only."),
    ("Hi\n  {product.__class__}", "The prompt has {product.__class__} at line 2, column 3: attribute or index "
                                   "access (.__class__) is not allowed; write {product} only."),
    ("{product[0]}", "The prompt has {product[0]} at line 1, column 1: attribute or index access ([0]) is not "
                     "allowed; write {product} only."),
    ("Write {}", "The prompt has {} at line 1, column 7: an empty placeholder; name the input, e.g. {product}."),
    ("{0}", "The prompt has {0} at line 1, column 1: an input name has only letters, digits and _ and does not "
            "start with a digit."),
    ("Hello {", "The prompt has { at line 1, column 7, which is not closed. Close it with } or write {{ for a "
                "literal brace."),
    ("a\nb {x {y}", "The prompt has {x at line 2, column 3, which is not closed. Close it with } or write {{ "
                    "for a literal brace."),
    ("}", "The prompt has a lone } at line 1, column 1. Write }} for a literal brace."),
    ("Ok {x}\n\nthen }", "The prompt has a lone } at line 3, column 6. Write }} for a literal brace."),
])
def test_a_placeholder_that_is_not_plain_is_refused_naming_it_and_its_line_and_column(template, message):
    assert str(_refusal(template)) == message


def test_a_huge_bad_placeholder_is_quoted_shortened():
    error = _refusal("{x:" + "9" * 10_000 + "}")
    assert len(str(error)) < 200 and error.placeholder.endswith("…")


def test_plain_placeholders_and_escaped_braces_are_accepted():
    assert template_placeholders("{{json}} for {product}, {tone_2} and {product} }}") == {"product", "tone_2"}
    assert template_placeholders("No placeholders at all.") == set()


def test_validate_template_names_every_unknown_input_with_its_position():
    with pytest.raises(TemplateError) as caught:
        validate_template("Ad for {prodcut}\nin {tne} and {prodcut}", known={"product", "tone"})
    assert str(caught.value) == (
        "The prompt uses {prodcut} (line 1, column 8), {tne} (line 2, column 4), which are not inputs of this "
        "product. Inputs you can use: {product}, {tone}."
    )
    validate_template("Ad for {product}", known={"product", "tone"})


def test_every_gallery_template_is_valid():
    for kind in all_kinds():
        for template in kind.templates:
            validate_template(template.prompt_template, known={field.name for field in template.inputs})


def test_render_substitutes_plainly_and_never_runs_format():
    inputs = {"product": "{tone:>50}", "tone": "bold"}
    # A value that looks like a placeholder is inserted as text, not expanded again.
    rendered = render_prompt("{product} is {tone}; {{literal}} {missing}", inputs)
    assert rendered == "{tone:>50} is bold; {literal} {missing}"
    # A template saved before templates were checked renders its bad placeholder as written, never padded.
    assert render_prompt("Copy for {product:x>100000000}", inputs) == "Copy for {product:x>100000000}"
    assert render_prompt("{product.__class__} {0} {", inputs) == "{product.__class__} {0} {"


def test_render_stops_as_soon_as_the_prompt_passes_its_cap():
    with pytest.raises(PromptTooLong) as caught:
        render_prompt("{x}" * 1000, {"x": "y" * 2000}, max_chars=10_000)
    assert caught.value.limit == 10_000 and caught.value.length <= 12_000
    assert render_prompt("{x}", {"x": "y" * 10}, max_chars=10) == "y" * 10


def test_the_character_cap_follows_the_engine_prompt_token_limit():
    engine_limit = GenerationParams().max_prompt_tokens
    assert engine_limit == ENGINE_MAX_PROMPT_TOKENS
    assert prompt_char_limit() == engine_limit * 8 == prompt_char_limit(engine_limit)


def test_build_messages_refuses_a_prompt_over_the_cap_before_tokenising_naming_the_longest_input():
    kind = get_kind("copywriting")
    with pytest.raises(InputError) as caught:
        kind.build_messages(system_prompt="Be brief.", prompt_template="{a} {b}" * 7,
                            inputs={"a": "x" * 2000, "b": "short"})
    assert caught.value.errors == {"a": (
        "This makes the prompt longer than 12,288 characters, the most the model reads; shorten it.")}
    messages = kind.build_messages(system_prompt="Be brief.", prompt_template="{a} {b}" * 6,
                                   inputs={"a": "x" * 2000, "b": "short"})
    assert len(messages[1]["content"]) == 6 * (2000 + 1 + 5)
