"""Product kinds without a model: typed inputs, settings in plain words, prompt building."""

from __future__ import annotations

import pytest

from products.kinds import all_kinds, get_kind
from products.kinds.base import GenerationSettings, InputError, InputField, render_prompt


def test_registry_has_the_copywriting_kind_with_four_templates():
    kind = get_kind("copywriting")
    assert kind in all_kinds()
    assert [t.id for t in kind.templates] == [
        "product-description", "ad-headlines", "social-post", "email-subject-lines",
    ]


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="Unknown product kind 'poetry'; known kinds: copywriting"):
        get_kind("poetry")


def test_validate_inputs_reports_every_problem_at_once():
    kind = get_kind("copywriting")
    fields = list(kind.template("email-subject-lines").inputs)
    with pytest.raises(InputError) as caught:
        kind.validate_inputs(fields, {"email_about": "  ", "max_words": "99"})
    assert caught.value.errors == {
        "email_about": "What the email is about is required.",
        "max_words": "Maximum words must be at most 15.",
    }


def test_validate_inputs_fills_defaults_and_converts_numbers():
    kind = get_kind("copywriting")
    fields = list(kind.template("email-subject-lines").inputs)
    cleaned = kind.validate_inputs(fields, {"email_about": "Spring sale", "max_words": "6"})
    assert cleaned == {"email_about": "Spring sale", "audience": "everyone", "max_words": 6}


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (InputField("tone", "Tone", type="choice", choices=("a", "b")), "c", "Tone must be one of: a, b."),
        (InputField("n", "Count", type="number"), "many", "Count must be a number."),
        (InputField("t", "Title", max_length=5), "too long", "Title is 8 characters; the limit is 5."),
    ],
)
def test_input_field_rejects_bad_values_with_a_sentence(field, raw, message):
    with pytest.raises(ValueError, match=message):
        field.clean(raw)


def test_input_field_round_trips_through_a_dict():
    field = InputField("tone", "Tone", type="choice", choices=("a", "b"), default="a")
    assert InputField.from_dict(field.to_dict()) == field


def test_generation_settings_are_clamped_to_safe_limits():
    settings = GenerationSettings.from_dict({"creativity": "9", "length": "100000", "variants": 0})
    assert settings.to_dict() == {"creativity": 1.5, "length": 1024, "variants": 1}


def test_generation_settings_reject_words_where_numbers_go():
    with pytest.raises(InputError, match="The length setting must be a number."):
        GenerationSettings.from_dict({"length": "long"})


def test_prompt_rendering_keeps_unknown_placeholders_visible():
    assert render_prompt("Hi {name}, {missing}", {"name": "Ada"}) == "Hi Ada, {missing}"


def test_build_messages_puts_instructions_first():
    kind = get_kind("copywriting")
    messages = kind.build_messages(system_prompt="Be brief.", prompt_template="About {x}", inputs={"x": "cats"})
    assert messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "About cats"}]
