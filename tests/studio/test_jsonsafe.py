"""studio/jsonsafe.py: JSON from strangers is bounded in size and depth and holds only finite numbers."""

from __future__ import annotations

import io
import json

import pytest
from rest_framework.exceptions import ParseError

from studio import jsonsafe
from studio.parsers import BoundedJSONParser


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000, "The JSON nests more than 32 levels deep; send a flatter object."),
    ('{"a":' * 100_000, "The JSON nests more than 32 levels deep; send a flatter object."),
    ("[" * 33 + "]" * 33, "The JSON nests more than 32 levels deep; send a flatter object."),
    ('{"creativity": NaN}', "NaN is not a JSON number; send a finite number."),
    ("[-Infinity]", "-Infinity is not a JSON number; send a finite number."),
    ('{"creativity": 1e400}', "1e400 is too large for a JSON number; send a finite number."),
    ("x" * (jsonsafe.MAX_BYTES + 1), f"The JSON is {jsonsafe.MAX_BYTES + 1:,} bytes; the limit is "
                                      f"{jsonsafe.MAX_BYTES:,}."),
])
def test_loads_refuses_deep_non_finite_or_huge_json_with_a_value_error_saying_why(text, message):
    with pytest.raises(ValueError) as caught:
        jsonsafe.loads(text)
    assert str(caught.value) == message


def test_loads_reads_ordinary_json_and_brackets_inside_strings_do_not_count():
    assert jsonsafe.loads("[" * 32 + "]" * 32) == json.loads("[" * 32 + "]" * 32)
    assert jsonsafe.loads('{"text": "[[[[{{{{ \\" ]]"}') == {"text": '[[[[{{{{ " ]]'}
    assert jsonsafe.loads(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    assert jsonsafe.loads('"' + "[" * 100_000 + '"') == "[" * 100_000


def test_an_unclosed_string_is_json_s_own_error_not_a_depth_error():
    with pytest.raises(ValueError) as caught:
        jsonsafe.loads('["' + "[" * 100)
    assert "Unterminated string" in str(caught.value)


def test_the_api_parser_turns_each_refusal_into_a_parse_error():
    with pytest.raises(ParseError) as caught:
        BoundedJSONParser().parse(io.BytesIO(b"[" * 100_000))
    assert str(caught.value.detail) == (
        "JSON parse error - The JSON nests more than 32 levels deep; send a flatter object.")
    assert BoundedJSONParser().parse(io.BytesIO(b'{"inputs": {}}')) == {"inputs": {}}
