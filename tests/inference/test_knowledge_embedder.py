"""The embedder's own encode path (a TorchScript trace of BERT + mean pooling + normalise) gives
sentence-transformers' vectors: a stored index and a question encoded either way must score alike."""

from __future__ import annotations

import numpy as np
import pytest

from inference.knowledge.embedder import DIMENSIONS, embed

TOLERANCE = 1e-5
#: Mixed lengths in one call: one word, a sentence, a paragraph, one past MiniLM's 256-token window (cut there),
#: padding whitespace and an empty text; padded to the longest in each batch as sentence-transformers pads.
TEXTS = [
    "Refunds",
    "How long does express delivery take to Scotland?",
    " ".join(f"Parcel {i} left the warehouse on a Tuesday and reached the customer two days later." for i in range(8)),
    " ".join(f"word{i}" for i in range(600)),
    "   Can I change my delivery address after ordering?   ",
    "",
    "Do you ship to Norway, and who pays the import duty when the parcel arrives?",
]


@pytest.fixture(scope="session")
def library(bundled_models):
    from django.conf import settings
    from sentence_transformers import SentenceTransformer

    from inference.registry import EMBEDDING_MODEL_ID, model_path

    model = SentenceTransformer(str(model_path(settings.MODELS_DIR, EMBEDDING_MODEL_ID)), device="cpu",
                                local_files_only=True)
    return lambda texts, batch_size=64: model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                                      convert_to_numpy=True, show_progress_bar=False)


def test_a_single_question_on_one_thread_embeds_as_sentence_transformers_does(library):
    question = ["What is your returns policy for opened items?"]

    got = embed(question, threads=1)

    assert got.shape == (1, DIMENSIONS) and got.dtype == np.float32
    assert np.abs(got - library(question)).max() < TOLERANCE
    assert abs(float(np.linalg.norm(got[0])) - 1.0) < 1e-5


def test_padded_batches_of_mixed_lengths_embed_as_sentence_transformers_does(library):
    got = embed(TEXTS)

    assert got.shape == (len(TEXTS), DIMENSIONS)
    assert np.abs(got - library(TEXTS)).max() < TOLERANCE
    # Each text alone (no padding) gives the same vector as in the padded batch: the mask is honoured.
    alone = np.vstack([embed([text]) for text in TEXTS])
    assert np.abs(got - alone).max() < TOLERANCE


def test_a_call_longer_than_one_batch_keeps_each_vector_in_its_texts_row(library):
    texts = [f"{text} (copy {i})" for i in range(3) for text in TEXTS]

    got = embed(texts, batch_size=4)  # several batches, each ordered longest first

    assert np.abs(got - library(texts, batch_size=4)).max() < TOLERANCE
    assert np.abs(got[1] - embed([texts[1]])[0]).max() < TOLERANCE
