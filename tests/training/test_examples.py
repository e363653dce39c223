"""Dataset rows → the product kind's training conversation → token ids with the prompt masked out."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from inference.registry import DEFAULT_MODEL_ID, model_path
from inference.training.examples import prompt_ids, tokenize, tokenize_all
from inference.training.losses import collate
from products.datasets.requirements import shape_get
from products.kinds import get_kind
from products.kinds.base import TrainingConversation
from products.kinds.copywriting import SYSTEM as COPY_SYSTEM

COPYWRITING = get_kind("copywriting")
SHAPE = shape_get("copywriting", "examples")
EXAMPLE = {"inputs": {"product": "Oak Stool", "category": "Home", "features": "solid oak"}, "output": "Sturdy oak."}


def _prompt_config(template_id: str) -> dict:
    template = COPYWRITING.template(template_id)
    return {"system_prompt": template.system_prompt, "prompt_template": template.prompt_template,
            "input_schema": [field.to_dict() for field in template.inputs]}


def _conversation(example: dict, template_id: str) -> TrainingConversation | None:
    return COPYWRITING.training_conversation(example=example, rendered=SHAPE.render(example),
                                             prompt_config=_prompt_config(template_id))


def test_a_row_holding_every_input_becomes_the_prompt_the_playground_sends_with_defaults_filled_in():
    config = _prompt_config("product-description")
    conversation = _conversation(EXAMPLE, "product-description")
    assert conversation.messages == COPYWRITING.build_messages(
        system_prompt=config["system_prompt"], prompt_template=config["prompt_template"],
        inputs={"product": "Oak Stool", "features": "solid oak", "audience": "everyone", "tone": "friendly"},
    )
    assert conversation.reply == "Sturdy oak."


def test_a_row_missing_a_required_input_is_taught_as_the_dataset_page_shows_it():
    conversation = _conversation(EXAMPLE, "ad-headlines")  # needs a "benefit" the row does not have
    assert conversation.messages == [
        {"role": "system", "content": COPY_SYSTEM},
        {"role": "user", "content": "Write marketing copy from these facts:\nproduct: Oak Stool\ncategory: Home\n"
                                    "features: solid oak"},
    ]
    assert conversation.reply == "Sturdy oak."


def test_a_passage_to_answer_from_teaches_no_reply():
    shape = shape_get("qa", "documents")
    example = {"document": "We ship to the EU.", "title": "Shipping"}
    assert COPYWRITING.training_conversation(example=example, rendered=shape.render(example),
                                             prompt_config=_prompt_config("product-description")) is None


@pytest.fixture(scope="module")
def tokenizer():
    from inference.training.trainer import load_tokenizer

    return load_tokenizer(model_path(Path(settings.MODELS_DIR), DEFAULT_MODEL_ID))


def test_tokens_start_with_the_inference_prompt_and_only_the_reply_is_learnt(tokenizer):
    conversation = _conversation(EXAMPLE, "product-description")
    example = tokenize(tokenizer, conversation, max_length=512)
    prompt = prompt_ids(tokenizer, conversation.messages)
    assert list(example.input_ids[: example.prompt_length]) == prompt
    reply = tokenizer.decode(example.input_ids[example.prompt_length :])
    assert reply.startswith("Sturdy oak.<|im_end|>")  # the model also learns where to stop
    batch = collate([example], [0], pad_id=tokenizer.eos_token_id, device="cpu")
    labels = batch["labels"][0].tolist()
    assert labels[: example.prompt_length] == [-100] * example.prompt_length
    assert labels[example.prompt_length :] == example.input_ids[example.prompt_length :].tolist()


def test_long_replies_are_cut_to_the_maximum_length_and_prompts_that_fill_it_are_left_out(tokenizer):
    long_reply = _conversation({**EXAMPLE, "output": "word " * 400}, "product-description")
    split = tokenize_all(tokenizer, [long_reply], max_length=128)
    assert [example.length for example in split.examples] == [128] and split.too_long == 0
    assert tokenize_all(tokenizer, [long_reply], max_length=40).too_long == 1
