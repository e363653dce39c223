from __future__ import annotations

import pytest

from inference.engines.detokenize import IncrementalDetokenizer

from .factories import ByteTokenizer


def test_multibyte_characters_split_across_tokens_are_emitted_whole():
    tokenizer = ByteTokenizer()
    detok = IncrementalDetokenizer(tokenizer)
    text = "héllo € 🐉!"

    fragments = [detok.add(token) for token in tokenizer.encode(text)]

    assert "".join(fragments) == text
    assert all("\ufffd" not in fragment for fragment in fragments)
    assert "🐉" in fragments  # the dragon's four bytes come out as one fragment


def test_decode_window_stays_short_however_long_the_output():
    tokenizer = ByteTokenizer()
    detok = IncrementalDetokenizer(tokenizer, tokenizer.encode("prompt"))

    out = "".join(detok.add(token) for token in tokenizer.encode("abc é " * 500))

    assert out == "abc é " * 500
    assert max(tokenizer.calls) <= 8


def test_special_tokens_are_skipped_and_do_not_grow_the_window():
    tokenizer = ByteTokenizer()
    detok = IncrementalDetokenizer(tokenizer)

    out = [detok.add(token) for token in [104, 256, 256, 256, 105]]

    assert out == ["h", "", "", "", "i"]
    assert max(tokenizer.calls) <= 3


def test_flush_returns_a_trailing_incomplete_character():
    tokenizer = ByteTokenizer()
    detok = IncrementalDetokenizer(tokenizer)

    held = detok.add("€".encode()[0])

    assert (held, detok.flush()) == ("", "\ufffd")


@pytest.mark.model
def test_real_tokenizer_streams_the_same_text_as_a_full_decode(engine):
    tokenizer = engine.loaded.tokenizer
    text = " Dragons 🐉 fly über Zürich, naïve café — done."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt = tokenizer("Tell me:", add_special_tokens=False)["input_ids"]
    detok = IncrementalDetokenizer(tokenizer, prompt)

    fragments = [detok.add(token) for token in ids]

    assert "".join(fragments) == tokenizer.decode(ids)
    assert all("\ufffd" not in fragment for fragment in fragments)
