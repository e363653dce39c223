"""Fine-tuning a Q&A assistant with its knowledge base: each training question gets the numbered passages the
answer runner would give it (real MiniLM, a real index, the real SmolLM2 for a few CPU steps)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from inference.knowledge.prompt import Passage, answer_prompt_for
from inference.knowledge.search import index_cache, retrieve
from inference.models import KnowledgeIndex
from inference.registry import model_path
from inference.training.conversations import dataset_version_conversations
from inference.training.passages import NOT_READY, Tally, grounded, run_grounding
from inference.training.worker import TrainingWorker
from products.services import product_create
from products.training.services import training_run_create
from tests.inference.knowledge import built_index, csv_bytes, knowledge_version
from tests.training.conftest import TINY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.model]

#: Question → answer pairs on tests/inference/knowledge.py's help centre, and two it cannot answer.
PAIRS = [
    ("How much does express delivery cost?", "Express delivery costs 9.95 € [1]."),
    ("Is shipping free?", "Shipping is free on orders over 50 € [1]."),
    ("How long do I have to send an item back?", "You can return unused items within 30 days [1]."),
    ("Where do I get a return label?", "Print the free return label from the Orders page [1]."),
    ("Can I pay with Apple Pay?", "Yes, express checkout takes Apple Pay and Google Pay [1]."),
    ("How long does a repair of my kettle take?", "A standard repair takes two weeks [1]."),
    ("What does the express repair cost?", "The express repair costs 25 € extra [1]."),
    ("When is customer service open on Saturday?", "On Saturday from 10:00 to 14:00 [1]."),
    ("How should I wash linen sheets?", "Wash linen at 40 °C with a mild detergent [1]."),
    ("How long is a gift card valid?", "Gift cards stay valid for three years [1]."),
    ("What is the biggest gift card I can buy?", "Gift cards go up to 500 € [1]."),
    ("Does express checkout cost anything?", "No, express checkout is free to use [1]."),
    ("Who painted the Mona Lisa?", "I can't find that in our help centre."),
    ("What is the capital of Australia?", "I can't find that in our help centre."),
]
OFF_TOPIC = {"Who painted the Mona Lisa?", "What is the capital of Australia?"}


@pytest.fixture
def helper(make_team):
    """(team, owner, a help-centre assistant whose knowledge index is built, its question → answer pairs)."""
    index_cache().clear()
    team = make_team("Shop")
    owner = team.memberships.get().user
    documents = knowledge_version(team, owner)
    product = product_create(team=team, user=owner, kind_id="qa", template_id="help-centre", name="Help desk",
                             knowledge_version=documents)
    assert built_index(documents).status == "succeeded"
    from django.core.files.uploadedfile import SimpleUploadedFile

    from products.datasets.services import dataset_upload_create, dataset_version_create

    upload = dataset_upload_create(team=team, user=owner, name="Answers", file=SimpleUploadedFile(
        "answers.csv", csv_bytes(["question", "answer"], PAIRS), content_type="text/csv"))
    pairs = dataset_version_create(source=upload, user=owner, kind="qa", shape="pairs",
                                   column_mapping={"question": ["question"], "answer": ["answer"]},
                                   validation_fraction=0.2)
    return team, owner, product, pairs


def _tokenizer(base_model: str):
    from inference.training.trainer import load_tokenizer

    return load_tokenizer(model_path(settings.MODELS_DIR, base_model))


def test_each_training_question_gets_the_answer_runners_prompt_with_its_numbered_passages(helper):
    team, owner, product, pairs = helper
    run = training_run_create(product=product, dataset_version=pairs, user=owner, overrides=TINY)
    assert run.prompt_config["knowledge"] == {"version": product.knowledge_version_id, "top_k": 4, "threshold": 0.35}
    grounding, why = run_grounding(team.pk, run.prompt_config)
    assert why == "" and grounding.index.dataset_version_id == product.knowledge_version_id
    tokenizer = _tokenizer(run.base_model)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    plain = {_question(c): c for split in ("train", "validation") for c in dataset_version_conversations(
        pairs, kind_id="qa", prompt_config=run.prompt_config, split=split)}
    tally = Tally()
    tuned = {_question(c): c for c in grounded(plain.values(), grounding, count=count, max_length=512, tally=tally)}

    express = tuned["How much does express delivery cost?"]
    system = express.messages[0]["content"]
    assert express.messages[0]["role"] == "system" and system.startswith(product.system_prompt)
    assert "<passages>" in system and "[1] Shipping costs\nShipping is free on orders over 50 €" in system
    assert "[2] " in system and express.passages >= 2
    assert express.messages[-1] == {"role": "user", "content": "How much does express delivery cost?"}
    assert express.reply == "Express delivery costs 9.95 € [1]."
    # Exactly the prompt the answer runner builds for that question on that index (same builder, same hits).
    hits = retrieve(grounding.index, question="How much does express delivery cost?", top_k=4).hits
    served = answer_prompt_for(plain["How much does express delivery cost?"].messages, budget_tokens=512,
                               count=count, passages=[Passage(h.id, h.title, h.text) for h in hits])
    assert express.messages == served.messages

    # Off-topic questions are ones the assistant abstains on: they keep their plain prompt.
    assert sorted(tally.plain) == sorted(OFF_TOPIC) and tally.grounded == len(PAIRS) - 2
    for question in OFF_TOPIC:
        assert tuned[question].passages == 0 and "<passages>" not in tuned[question].messages[0]["content"]


def test_a_run_without_a_ready_index_trains_plain_pairs_and_says_so(helper):
    team, owner, product, pairs = helper
    run = training_run_create(product=product, dataset_version=pairs, user=owner, overrides=TINY)
    assert run_grounding(team.pk + 1000, run.prompt_config) == (None, NOT_READY)  # another team's index: never
    KnowledgeIndex.objects.filter(dataset_version_id=product.knowledge_version_id).update(status="running")
    assert run_grounding(team.pk, run.prompt_config) == (None, NOT_READY)
    assert run_grounding(team.pk, {"system_prompt": "x"}) == (None, "")  # no knowledge base: plain, nothing to say

    assert TrainingWorker(poll_seconds=1).run_once() is True
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert NOT_READY in [entry.message for entry in run.log_entries.all()]


def test_a_real_qa_fine_tune_trains_on_passages_and_the_run_page_says_which_questions_had_them(helper, client):
    team, owner, product, pairs = helper
    run = training_run_create(product=product, dataset_version=pairs, user=owner,
                              overrides={**TINY, "max_length": 384, "eval_samples": 3})
    assert TrainingWorker(poll_seconds=1).run_once() is True
    run.refresh_from_db()
    assert (run.status, run.error) == ("succeeded", "")

    log = [entry.message for entry in run.log_entries.all()]
    line = next(m for m in log if m.startswith("Passages from the knowledge base"))
    assert f"are in the prompt of {pairs.train_count - _off_topic_in(pairs, 'train')} of {pairs.train_count} " \
           "training questions" in line
    assert "Trained without passages" in line and "“Who painted the Mona Lisa?”" in line
    samples = run.evaluation.samples
    assert any(sample["passages"] >= 1 for sample in samples)
    assert all(sample["passages"] == 0 for sample in samples if sample["prompt"] in OFF_TOPIC)

    client.force_login(owner)
    page = client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert "Trained without passages" in page and "retrieved passage" in page


def _off_topic_in(version, split: str) -> int:
    from products.datasets.selectors import dataset_version_examples

    return sum(1 for e in dataset_version_examples(version, split=split) if e["question"] in OFF_TOPIC)


def _question(conversation) -> str:
    return conversation.messages[-1]["content"]
