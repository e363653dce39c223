"""Building knowledge indexes with the real MiniLM on PostgreSQL: chunks with embeddings and progress, the
messages a person reads for datasets that cannot be indexed, and a worker killed mid-build."""

from __future__ import annotations

import functools
import os
import signal
import subprocess

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from inference.knowledge.build import WRITE_BATCH
from inference.knowledge.chunking import (
    MAX_TOKENS,
    OVERLAP_TOKENS,
    chunk_text,
    looks_like_text,
    minilm_token_counter,
    sentences,
)
from inference.knowledge.embedder import DIMENSIONS, embed, from_bytes
from inference.knowledge.worker import IndexBuildWorker
from inference.models import KnowledgeChunk, KnowledgeIndex
from products.knowledge.services import knowledge_index_request
from tests.inference.knowledge import HELP_CENTRE, built_index, csv_bytes, knowledge_version, store_faq_version
from tests.processes import manage_command, processes_stop, wait_for

GUARD_S = 240  # how long a wait may last before the test gives up on a hung worker (not a measurement)
_wait_for = functools.partial(wait_for, timeout=GUARD_S, every=0.2)


@pytest.fixture
def team_and_owner(make_team):
    team = make_team("Shop")
    return team, team.memberships.get().user


@pytest.fixture(scope="session")
def counter(bundled_models):
    from django.conf import settings

    return minilm_token_counter(settings.MODELS_DIR)


# Chunking (the MiniLM tokenizer, no database) ------------------------------------------------------------


def test_chunks_keep_whole_sentences_under_the_token_limit_and_overlap(counter):
    count, offsets = counter
    text = " ".join(f"Sentence number {i} tells the reader one more fact about parcel {i}." for i in range(60))
    chunks = chunk_text(text, count=count, offsets=offsets)

    assert len(chunks) > 3
    assert all(count(chunk) <= MAX_TOKENS for chunk in chunks)
    assert all(chunk.startswith("Sentence number") and chunk.endswith(".") for chunk in chunks)
    for previous, following in zip(chunks, chunks[1:], strict=False):  # the overlap: the cut is in both
        before, after = sentences(previous), sentences(following)
        shared = [s for s in after if s in before]
        assert shared and before[-len(shared):] == after[:len(shared)] == shared
        assert sum(count(s) for s in shared) <= OVERLAP_TOKENS
    assert set(sentences(text)) == {s for chunk in chunks for s in sentences(chunk)}  # nothing lost


def test_a_sentence_longer_than_a_chunk_is_cut_between_words(counter):
    count, offsets = counter
    text = " ".join(["supercalifragilistic"] * 400)
    chunks = chunk_text(text, count=count, offsets=offsets)

    assert len(chunks) > 1 and all(count(chunk) <= MAX_TOKENS for chunk in chunks)
    assert all(set(chunk.split()) == {"supercalifragilistic"} for chunk in chunks)


def test_binary_junk_does_not_look_like_text_and_prose_does():
    assert looks_like_text("Standard delivery takes 2 to 4 working days. Express arrives the next day.")
    assert looks_like_text("Größe: 40 °C waschen — schonend. 洗濯は40度で。")
    assert not looks_like_text("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" * 10)
    assert not looks_like_text("PK\x03\x04\x14\x00\x06\x00" * 20)


# Building ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_building_a_documents_version_stores_one_embedded_chunk_per_passage_and_reaches_100(team_and_owner):
    team, owner = team_and_owner
    index = built_index(knowledge_version(team, owner))

    assert (index.status, index.error, index.progress_percent) == ("succeeded", "", 100)
    assert index.team == team and index.queue == "index" and index.built_at is not None
    assert index.chunks_total == index.chunks_done == len(HELP_CENTRE)
    chunks = list(KnowledgeChunk.objects.filter(index=index))
    assert [(c.position, c.source_row, c.title) for c in chunks] == [
        (i, i + 1, title) for i, (title, _) in enumerate(HELP_CENTRE)
    ]
    assert chunks[0].text == HELP_CENTRE[0][1]
    vectors = from_bytes([c.embedding for c in chunks])
    assert vectors.shape == (len(HELP_CENTRE), DIMENSIONS) and len(bytes(chunks[0].embedding)) == 2 * DIMENSIONS
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=2e-3)
    # The stored float16 vector is the embedding of the title and text, within float16 rounding.
    expected = embed([f"{HELP_CENTRE[0][0]}\n{HELP_CENTRE[0][1]}"])[0]
    assert float(vectors[0] @ expected) > 0.999


@pytest.mark.django_db(transaction=True)
def test_faq_pairs_become_question_and_answer_passages_titled_by_the_question(team_and_owner):
    team, owner = team_and_owner
    index = built_index(store_faq_version(team, owner))

    first = KnowledgeChunk.objects.filter(index=index).first()
    assert index.status == "succeeded" and index.chunks_total == 30
    assert first.title == "What are your opening hours?"
    assert first.text.startswith("What are your opening hours?\nOur online shop is open 24/7.")


@pytest.mark.django_db(transaction=True)
def test_long_documents_are_split_into_chunks_in_order_with_progress_saved_per_batch(team_and_owner):
    team, owner = team_and_owner
    article = " ".join(f"Paragraph {i} explains step {i} of setting up the espresso machine carefully." for i in
                       range(800))
    index = built_index(knowledge_version(team, owner, data=csv_bytes(["title", "text"], [("Manual", article)])))

    chunks = list(KnowledgeChunk.objects.filter(index=index))
    assert index.status == "succeeded" and index.chunks_total == len(chunks) > WRITE_BATCH
    assert {c.source_row for c in chunks} == {1} and {c.title for c in chunks} == {"Manual"}
    assert chunks[0].text.startswith("Paragraph 0 ") and chunks[-1].text.endswith("Paragraph 799 explains step 799 "
                                                                                  "of setting up the espresso "
                                                                                  "machine carefully.")


@pytest.mark.django_db(transaction=True)
def test_a_version_whose_passages_are_all_empty_is_refused_before_any_index_row(team_and_owner):
    team, owner = team_and_owner
    version = knowledge_version(team, owner, data=csv_bytes(["title", "text"], [("Shipping", ""), ("Returns", " ")]))

    with pytest.raises(ValidationError) as caught:
        knowledge_index_request(dataset_version=version)
    assert caught.value.message_dict["knowledge_version"] == [
        f"{version} has no passage text: every row's “text” is empty. Map the column that holds the passages on "
        "its dataset page (“Change mapping or split”), or upload a file with text in it."
    ]
    assert not KnowledgeIndex.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_binary_junk_in_a_row_fails_the_build_with_the_row_and_leaves_no_chunks(team_and_owner):
    team, owner = team_and_owner
    junk = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" * 10
    rows = [*HELP_CENTRE[:3], ("Logo", junk), *HELP_CENTRE[3:]]
    index = built_index(knowledge_version(team, owner, data=csv_bytes(["title", "text"], rows)))

    assert index.status == "failed" and index.progress_percent == 0
    assert index.error == (
        "Row 4 does not look like text (it is mostly unreadable characters or one long run without spaces, like a "
        "file exported in a binary format). Remove that row, or export the documents as plain text, and upload a "
        "new version."
    )
    assert not KnowledgeChunk.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_asking_twice_for_an_index_gives_the_same_row(team_and_owner):
    team, owner = team_and_owner
    version = knowledge_version(team, owner)
    assert knowledge_index_request(dataset_version=version) == knowledge_index_request(dataset_version=version)
    assert KnowledgeIndex.objects.count() == 1


# A worker killed mid-build -------------------------------------------------------------------------------


@pytest.fixture
def index_worker_process(media_root):
    """``manage.py index_worker`` in its own process with a 3-second lease, as in production."""
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        processes.append(manage_command("index_worker", MEDIA_ROOT=str(media_root), STUDIO_INDEX_LEASE_S="3",
                                        STUDIO_TRAINING_POLL_S="1"))
        return processes[-1]

    yield start
    processes_stop(processes)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_build_leaves_an_index_another_worker_finishes_with_exactly_one_set_of_chunks(
    team_and_owner, index_worker_process, settings
):
    team, owner = team_and_owner
    rows = [(f"Article {i}", " ".join(f"Article {i} sentence {j} is about topic {i * j}." for j in range(12)))
            for i in range(300)]
    index = knowledge_index_request(dataset_version=knowledge_version(team, owner,
                                                                       data=csv_bytes(["title", "text"], rows)))
    first = index_worker_process()
    _wait_for(lambda: first.poll() is not None or KnowledgeIndex.objects.get(pk=index.pk).chunks_done >= WRITE_BATCH,
              "the first batch of chunks")
    assert first.poll() is None, first.stdout.read()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    orphan = KnowledgeIndex.objects.get(pk=index.pk)
    partial = KnowledgeChunk.objects.filter(index=index).count()
    assert (orphan.status, orphan.attempts) == ("running", 1)
    assert WRITE_BATCH <= partial == orphan.chunks_done < orphan.chunks_total

    settings.INDEX_LEASE_SECONDS = 3
    second = IndexBuildWorker(poll_seconds=1)
    _wait_for(second.run_once, "the expired lease to be swept and the index claimed again")

    index.refresh_from_db()
    assert (index.status, index.attempts, index.progress_percent) == ("succeeded", 2, 100)
    chunks = KnowledgeChunk.objects.filter(index=index)
    assert chunks.count() == index.chunks_total == index.chunks_done
    assert sorted(chunks.values_list("position", flat=True)) == list(range(index.chunks_total))
    assert chunks.values("source_row").distinct().count() == len(rows)
