"""The Q&A kind's web half: the request prepare builds (QA_CONTRACT.md), its refusals, its settings, versions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inference.models import KnowledgeIndex
from inference.protocol import Task
from products.datasets.shapes import Block
from products.generation import GenerationRefused, generation_request
from products.kinds import all_kinds, get_kind
from products.kinds.qa import QA_DEFAULT_THRESHOLD
from products.knowledge.services import knowledge_index_request
from products.services import product_create, product_engine_update, product_knowledge_update, product_version_create
from tests.knowledge import faq_version, index_building, index_failed, index_ready

pytestmark = pytest.mark.django_db

PASSAGES = [("How much does shipping cost?", "Standard delivery costs 4.95 €."),
            ("How long does delivery take?", "Two to four working days.")]


@pytest.fixture
def faq(acme, acme_owner):
    return faq_version(acme, acme_owner)


@pytest.fixture
def assistant(acme, acme_owner, faq):
    return product_create(team=acme, user=acme_owner, kind_id="qa", template_id="store-faq", name="Shop helper",
                          knowledge_version=faq)


def _prepare(product, question="and how much is express?", conversation=None):
    return generation_request(kind=get_kind("qa"), config=product, inputs={"question": question},
                              conversation=conversation)


def test_qa_is_in_the_gallery_with_three_templates_asking_one_question():
    kind = get_kind("qa")
    assert kind in all_kinds() and kind.task == Task.ANSWER
    assert [t.name for t in kind.templates] == ["Help-centre assistant", "Store FAQ bot", "Internal policy helper"]
    for template in kind.templates:
        assert [f.name for f in template.inputs] == ["question"] and template.message_input == "question"
        assert template.system_prompt
        assert template.kind_config["top_k"] == 4 and template.kind_config["threshold"] == QA_DEFAULT_THRESHOLD
    assert (kind.renderer, kind.result_template) == ("products/renderers/answer.js",
                                                     "products/kinds/answer_result.html")


def test_creating_with_a_knowledge_base_queues_its_reading_once(assistant, faq, acme):
    assert assistant.knowledge_version_id == faq.pk
    index = KnowledgeIndex.objects.get(dataset_version=faq)
    assert (index.status, index.team_id, index.queue) == ("queued", acme.pk, "index")
    assert assistant.kind_config == {"top_k": 4, "threshold": QA_DEFAULT_THRESHOLD, "message_input": "question",
                                     "abstain_text": "Sorry, I don't know that from our shop's FAQ.", "handoff": ""}


def test_prepare_builds_the_contracts_answer_request_with_the_earlier_turns(assistant, faq, acme):
    index = index_ready(KnowledgeIndex.objects.get(dataset_version=faq), PASSAGES)
    product_knowledge_update(product=assistant, knowledge_version=faq,
                             kind_config={"top_k": 3, "threshold": 0.5, "handoff": "Email help@shop.example"})
    conversation = [
        {"role": "user", "content": "Do you ship to Norway?"},
        {"role": "assistant", "content": "Yes [1]."},
        {"role": "system", "content": "ignored: only user and assistant turns are earlier turns"},
        {"role": "user", "content": "How much does shipping cost?"},
        {"role": "assistant", "content": "4.95 € [1]."},
    ]
    request = _prepare(assistant, conversation=conversation).request
    assert request.task == Task.ANSWER and request.model == assistant.base_model and request.adapter is None
    assert request.messages == [
        {"role": "system", "content": assistant.system_prompt},
        {"role": "user", "content": "Do you ship to Norway?"},
        {"role": "assistant", "content": "Yes [1]."},
        {"role": "user", "content": "How much does shipping cost?"},
        {"role": "assistant", "content": "4.95 € [1]."},
        {"role": "user", "content": "and how much is express?"},
    ]
    assert request.retrieval == {
        "index": index.pk, "team": acme.pk, "question": "and how much is express?",
        "history": ["Do you ship to Norway?", "How much does shipping cost?"],
        "top_k": 3, "threshold": 0.5, "abstain_text": "Sorry, I don't know that from our shop's FAQ.",
        "handoff": "Email help@shop.example",
    }
    assert set(request.params) == {"max_new_tokens", "temperature", "top_p", "repetition_penalty", "max_seconds"}
    assert request.params["max_new_tokens"] == 200
    assert request.remote is None  # this studio writes the answer


def test_an_assistant_on_a_remote_engine_asks_for_the_answer_to_be_written_there(assistant, faq, settings):
    index_ready(KnowledgeIndex.objects.get(dataset_version=faq), PASSAGES)
    settings.REMOTE_ENGINES = {"gpu": "http://127.0.0.1:9/v1"}
    product_engine_update(product=assistant, remote_engine="gpu", remote_model="qwen-1.5b", api_key="sk-x")
    request = _prepare(assistant).request
    assert request.task == Task.ANSWER and request.retrieval["index"]  # retrieval still runs here
    assert request.remote == {"engine": "gpu", "model": "qwen-1.5b", "api_key": assistant.remote_api_key}
    assert "sk-x" not in str(request.to_dict())  # the key travels encrypted


def test_history_is_at_most_the_two_latest_user_turns(assistant, faq):
    index_ready(KnowledgeIndex.objects.get(dataset_version=faq), PASSAGES)
    turns = [{"role": "user", "content": f"question {n}"} for n in range(5)]
    assert _prepare(assistant, conversation=turns).request.retrieval["history"] == ["question 3", "question 4"]
    assert _prepare(assistant).request.retrieval["history"] == []


def test_without_a_knowledge_base_it_says_to_pick_one(acme, acme_owner):
    product = product_create(team=acme, user=acme_owner, kind_id="qa", template_id="help-centre")
    with pytest.raises(GenerationRefused) as refused:
        _prepare(product)
    assert refused.value.code == "knowledge_not_ready"
    assert refused.value.message == (
        "This assistant has no knowledge base yet: pick a dataset of your documents in Settings.")


def test_while_the_documents_are_read_it_says_how_far(assistant, faq):
    index = KnowledgeIndex.objects.get(dataset_version=faq)
    with pytest.raises(GenerationRefused) as queued:
        _prepare(assistant)
    assert queued.value.message == "Still reading your documents (0 %). Try again in a minute."
    index_building(index, done=12, total=30)
    with pytest.raises(GenerationRefused) as building:
        _prepare(assistant)
    assert (building.value.code, building.value.message) == (
        "knowledge_not_ready", "Still reading your documents (40 %). Try again in a minute.")
    index_failed(index, "Row 3 has no passage text.")
    with pytest.raises(GenerationRefused) as failed:
        _prepare(assistant)
    assert failed.value.message == (
        "Reading your documents failed: Row 3 has no passage text. Pick another dataset version in Settings.")


def test_an_index_of_another_team_never_serves(assistant, faq, make_team):
    index = index_ready(KnowledgeIndex.objects.get(dataset_version=faq), PASSAGES)
    index.team = make_team("Other")
    index.save()
    with pytest.raises(GenerationRefused) as refused:
        _prepare(assistant)
    assert refused.value.code == "knowledge_not_ready"


def test_retrieval_settings_are_checked_in_plain_words(assistant, faq):
    with pytest.raises(ValidationError) as bad:
        product_knowledge_update(product=assistant, knowledge_version=faq,
                                 kind_config={"top_k": 9, "threshold": 1.5, "abstain_text": "  "})
    assert bad.value.message_dict == {
        "top_k": ["How many passages to use must be a whole number from 1 to 8."],
        "threshold": ["How sure before answering must be a number from 0 to 1."],
        "abstain_text": ["Write the sentence the assistant says when your documents do not answer."],
    }
    with pytest.raises(ValidationError) as nan:
        product_knowledge_update(product=assistant, knowledge_version=faq, kind_config={"threshold": float("nan")})
    assert list(nan.value.message_dict) == ["threshold"]


def test_a_dataset_that_is_not_documents_or_pairs_is_refused_before_anything_is_made(
    acme, acme_owner, make_version
):
    copy = make_version(b"product,description\nMug,A mug.\nCup,A cup.\n", name="Copy", kind="copywriting",
                        shape="examples", mapping={"inputs": ["product"], "output": ["description"]})
    with pytest.raises(ValidationError) as refused:
        product_create(team=acme, user=acme_owner, kind_id="qa", template_id="store-faq", knowledge_version=copy)
    assert "is not mapped as Q&A documents or question → answer pairs" in " ".join(refused.value.messages)
    assert not KnowledgeIndex.objects.exists()
    assert not acme.products.exists()


def test_another_teams_dataset_cannot_become_a_knowledge_base(assistant, make_team):
    other = make_team("Other")
    theirs = faq_version(other, other.memberships.get().user)
    with pytest.raises(ValidationError, match="belongs to another team"):
        product_knowledge_update(product=assistant, knowledge_version=theirs, kind_config={})
    assert not KnowledgeIndex.objects.filter(dataset_version=theirs).exists()


def test_a_version_freezes_its_knowledge_base_and_settings(assistant, faq, acme, acme_owner):
    version = product_version_create(product=assistant, user=acme_owner)
    newer = faq_version(acme, acme_owner, name="FAQ 2")
    product_knowledge_update(product=assistant, knowledge_version=newer, kind_config={"top_k": 2})
    version.refresh_from_db()
    assert (version.knowledge_version_id, version.kind_config["top_k"]) == (faq.pk, 4)
    assert (assistant.knowledge_version_id, assistant.kind_config["top_k"]) == (newer.pk, 2)
    assert KnowledgeIndex.objects.filter(dataset_version=newer).exists()
    assert knowledge_index_request(dataset_version=faq).dataset_version_id == faq.pk


def test_question_answer_pairs_train_the_reply_to_the_question_as_the_playground_asks_it(assistant):
    kind = get_kind("qa")
    assert kind.trainer == "lora"
    conversation = kind.training_conversation(
        example={"question": "Do you ship abroad?", "answer": "Yes, across the EU."},
        rendered=[Block("System", "s"), Block("User", "Do you ship abroad?"),
                  Block("Assistant", "Yes, across the EU.", True)],
        prompt_config={"system_prompt": assistant.system_prompt, "prompt_template": assistant.prompt_template,
                       "input_schema": assistant.input_schema},
    )
    assert conversation.messages == [{"role": "system", "content": assistant.system_prompt},
                                     {"role": "user", "content": "Do you ship abroad?"}]
    assert conversation.reply == "Yes, across the EU."
    passage = kind.training_conversation(example={"document": "A passage."}, rendered=[Block("Passage", "A passage.")],
                                         prompt_config={})
    assert passage is None


def test_a_fine_tune_learns_from_pairs_and_refuses_documents_with_a_reason(assistant, faq, acme, acme_owner,
                                                                           make_version):
    from products.training.services import training_run_create

    run = training_run_create(product=assistant, dataset_version=faq, user=acme_owner)
    assert (run.status, run.train_examples) == ("queued", faq.train_count)
    rows = b"title,text\n" + b"".join(b"Article %d,Passage number %d about shipping.\n" % (n, n) for n in range(12))
    documents = make_version(rows, name="Articles", shape="documents",
                             mapping={"document": ["text"], "title": ["title"]})
    with pytest.raises(ValidationError) as refused:
        training_run_create(product=assistant, dataset_version=documents, user=acme_owner)
    assert refused.value.message_dict["dataset_version"] == [
        "Articles v1 is mapped as “Q&A: documents to answer from”, which teaches no replies: fine-tune on a "
        "dataset mapped as “Q&A: question → answer”."]


def test_a_knowledge_base_a_version_answers_from_cannot_be_deleted_and_says_who_uses_it(assistant, faq, acme_owner):
    from products.datasets.services import dataset_version_delete

    product_version_create(product=assistant, user=acme_owner)
    with pytest.raises(ValidationError) as refused:
        dataset_version_delete(version=faq)
    message = " ".join(refused.value.messages)
    assert message.startswith("v1 is used by ") and "Shop helper v1" in message, message
    assert KnowledgeIndex.objects.filter(dataset_version=faq).exists()
