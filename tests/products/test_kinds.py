"""Product kinds without a model: the typed contract, one input form for every surface, settings limits."""

from __future__ import annotations

import math

import pytest

from inference.protocol import InferenceRequest, Task
from products.kinds import all_kinds, get_kind
from products.kinds.base import InputField, PrepareContext, render_prompt
from products.kinds.inputs import InputError, clean_inputs, input_form
from products.kinds.settings import GenerationSettings, clean_settings

EMAIL_FIELDS = list(get_kind("copywriting").template("email-subject-lines").inputs)


def test_registry_has_copywriting_and_qa_with_their_templates_and_no_kind_is_planned_any_more():
    kind = get_kind("copywriting")
    assert kind.task == Task.GENERATE and kind in all_kinds()
    assert [t.id for t in kind.templates] == [
        "product-description", "ad-headlines", "social-post", "email-subject-lines",
    ]
    assert get_kind("qa").task == Task.ANSWER and get_kind("qa") in all_kinds()
    planned = {k.id: k.task for k in all_kinds(include_planned=True) if not k.available}
    assert planned == {}
    assert get_kind("classification").available  # classification landed (issue 14)
    assert get_kind("recommendation").available and get_kind("recommendation").task == Task.RANK  # issue 15


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="Unknown product kind 'poetry'; known kinds: .*copywriting"):
        get_kind("poetry")


def test_input_form_reports_every_problem_at_once():
    with pytest.raises(InputError) as caught:
        clean_inputs(EMAIL_FIELDS, {"email_about": "  ", "max_words": "99"})
    assert caught.value.errors == {
        "email_about": "What the email is about is required.",
        "max_words": "Maximum words must be at most 15.",
    }


def test_input_form_fills_defaults_for_missing_and_empty_values_and_converts_numbers():
    assert clean_inputs(EMAIL_FIELDS, {"email_about": "Spring sale", "max_words": "6"}) == {
        "email_about": "Spring sale", "audience": "everyone", "max_words": 6,
    }
    assert clean_inputs(EMAIL_FIELDS, {"email_about": "Spring sale", "audience": ""})["audience"] == "everyone"


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (InputField("tone", "Tone", type="choice", choices=("a", "b")), "c", "Tone must be one of: a, b."),
        (InputField("n", "Count", type="number"), "many", "Count must be a number."),
        (InputField("n", "Count", type="number"), math.nan, "Count must be a number."),
        (InputField("n", "Count", type="number"), "inf", "Count must be a number."),
        (InputField("t", "Title", max_length=5), "too long", "Title is 8 characters; the limit is 5."),
        (InputField("t", "Title"), ["a", "list"], "Title must be text or a number, not a list or an object."),
        (InputField("t", "100% cotton?"), "", "100% cotton? is required."),
    ],
)
def test_input_form_refuses_bad_values_with_a_sentence_naming_the_input(field, raw, message):
    with pytest.raises(InputError) as caught:
        clean_inputs([field], {field.name: raw})
    assert caught.value.errors == {field.name: message}


def test_the_playground_draws_the_same_form_with_defaults_shown():
    form = input_form(EMAIL_FIELDS, auto_id="in-%s")
    html = str(form["max_words"])
    assert 'id="in-max_words"' in html and 'value="8"' in html and 'max="15' in html


def test_input_field_round_trips_through_a_dict():
    field = InputField("tone", "Tone", type="choice", choices=("a", "b"), default="a")
    assert InputField.from_dict(field.to_dict()) == field


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        ({"creativity": "9"}, {"creativity": "Creativity must be a number from 0 to 1.5."}),
        ({"length": "100000", "variants": 0}, {"length": "Length (tokens) must be a whole number from 8 to 1024.",
                                               "variants": "Variants must be a whole number from 1 to 4."}),
        ({"creativity": math.nan}, {"creativity": "Creativity must be a number from 0 to 1.5."}),
        ({"creativity": "nan"}, {"creativity": "Creativity must be a number from 0 to 1.5."}),
        ({"length": "long"}, {"length": "Length (tokens) must be a whole number from 8 to 1024."}),
    ],
)
def test_settings_outside_their_limits_are_refused_by_name(given, errors):
    with pytest.raises(InputError) as caught:
        clean_settings(given)
    assert caught.value.errors == errors


def test_settings_overrides_change_only_what_they_name():
    base = GenerationSettings(creativity=0.7, length=160, variants=1)
    assert base.with_overrides({"length": "40", "unknown": 3}).to_dict() == {
        "creativity": 0.7, "length": 40, "variants": 1,
    }


def test_prompt_rendering_keeps_unknown_placeholders_visible():
    assert render_prompt("Hi {name}, {missing}", {"name": "Ada"}) == "Hi Ada, {missing}"


class _Config:
    """The parts of a draft or version that ``prepare`` reads."""

    system_prompt = "Be brief."
    prompt_template = "About {x}"
    base_model = "smollm2-135m-instruct"
    adapter_path = None
    input_schema = [InputField("x", "X").to_dict()]
    kind_config: dict = {}

    def remote_request(self) -> dict | None:  # this studio's own engine (tests/products/test_remote_engine_settings.py)
        return None


def test_prepare_is_pure_and_names_its_task_model_messages_and_params():
    kind = get_kind("copywriting")
    request = kind.prepare(_Config(), {"x": "cats"}, PrepareContext(settings=GenerationSettings(creativity=0,
                                                                                                length=12)))
    assert request == InferenceRequest(
        task=Task.GENERATE, model="smollm2-135m-instruct", adapter=None,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "About cats"}],
        params={"max_new_tokens": 12, "temperature": 0, "top_p": 0.95, "repetition_penalty": 1.1,
                "max_seconds": 90.0, "end_on_sentence": True},  # copy's greedy prose keeps the loop penalty
    )
    assert InferenceRequest.from_dict(request.to_dict()) == request  # it crosses the channel layer as a dict


def test_a_chat_message_fills_the_input_the_template_names():
    kind = get_kind("copywriting")
    template = kind.template("product-description")

    class Config(_Config):
        input_schema = [field.to_dict() for field in template.inputs]
        kind_config = {"message_input": template.message_input}

    config = Config()
    assert kind.message_input(config).name == "features"
    assert kind.inputs_unfilled_by_message(config) == []  # the flagship widget answers every visitor
    inputs = kind.clean_inputs(config, kind.inputs_from_message(config, "Waterproof\n220 g"))
    assert inputs == {"product": "", "features": "Waterproof\n220 g", "audience": "everyone", "tone": "friendly"}
