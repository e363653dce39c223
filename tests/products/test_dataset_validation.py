"""The dataset doctor on files it can read: formats, encodings, and a report with line numbers and fixes."""

from __future__ import annotations

import io

import pytest

from products.datasets.tokens import TokenCounter
from products.datasets.validation import validate_file


def check(data: bytes, filename: str = "data.csv", **kwargs):
    return validate_file(io.BytesIO(data), filename=filename, **kwargs)


def issue(result, code: str) -> dict:
    return next(i for i in result.report["issues"] if i["code"] == code)


@pytest.mark.parametrize(
    ("data", "delimiter", "label"),
    [
        (b"name,price\nMug,4.50\nCup,3.20\n", ",", "comma"),
        (b"name;price\nMug;4,50\nCup;3,20\n", ";", "semicolon"),
        (b"name\tprice\nMug\t4.50\nCup\t3.20\n", "\t", "tab"),
        (b"name|price\nMug|4.50\nCup|3.20\n", "|", "pipe"),
    ],
)
def test_validate_detects_each_common_delimiter_with_csv_sniffer(data, delimiter, label):
    result = check(data)
    assert result.fmt.delimiter == delimiter
    assert result.report["delimiter_label"] == label
    assert [c["name"] for c in result.columns] == ["name", "price"]
    assert result.row_count == 2


def test_validate_reads_utf8_with_bom_and_keeps_the_first_column_name_clean():
    result = check("\ufeffname,desc\nCafé,crème\n".encode())
    assert result.fmt.encoding == "utf-8-sig"
    assert result.report["encoding"] == "UTF-8 with BOM"
    assert result.columns[0]["name"] == "name"


def test_validate_reads_utf16_with_a_byte_order_mark():
    result = check("name,desc\nCafé,crème\nTea,green\n".encode("utf-16"))
    assert result.usable and result.fmt.encoding == "utf-16"
    assert result.row_count == 2


def test_validate_counts_rows_the_same_with_mixed_newlines():
    result = check(b"a,b\r\n1,2\n3,4\r5,6\n")
    assert result.usable and result.row_count == 3


def test_validate_keeps_quoted_values_with_delimiters_and_newlines_in_one_row():
    result = check(b'name,desc\nMug,"Big, blue\nand round"\nCup,small\n')
    assert result.row_count == 2 and result.usable


def test_validate_reads_jsonl_and_collects_keys_in_first_seen_order():
    data = b'{"question": "Hi?", "answer": "Hello"}\n{"question": "Price?", "answer": "4", "tags": ["a"]}\n'
    result = check(data, "faq.jsonl")
    assert result.fmt.format == "jsonl"
    assert [(c["name"], c["type"]) for c in result.columns] == [
        ("question", "text"), ("answer", "text"), ("tags", "json")
    ]
    assert issue(result, "empty_cells")["detail"] == "“tags” is empty on 1 of 2 rows."


def test_validate_reads_plain_text_as_one_example_per_line():
    result = check(b"First example\nSecond example\n\nThird example\n", "notes.txt")
    assert result.fmt.format == "txt"
    assert result.columns == [{"name": "text", "type": "text"}]
    assert result.row_count == 4
    assert issue(result, "empty_rows")["where"] == [{"line": 3}]


def test_validate_infers_column_types():
    data = b"id,price,in_stock,name,empty\n1,4.5,yes,Mug,\n2,3,no,Cup,\n"
    result = check(data)
    assert {c["name"]: c["type"] for c in result.columns} == {
        "id": "integer", "price": "number", "in_stock": "boolean", "name": "text", "empty": "empty"
    }
    assert [c["type_label"] for c in result.report["columns"]] == ["whole number", "number", "yes/no", "text", "empty"]


def test_validate_reports_duplicates_empty_rows_and_spaces_with_line_numbers_and_fixes():
    data = b"name,desc\nMug,Nice\nCup, small \nMug,Nice\n,\nMug,Nice\n"
    result = check(data)
    assert result.verdict == "warnings"
    duplicates = issue(result, "duplicate_rows")
    assert duplicates["detail"] == "2 rows repeat an earlier row exactly."
    assert duplicates["where"] == [{"line": 4, "note": "same as line 2"}, {"line": 6, "note": "same as line 2"}]
    assert duplicates["fix"].startswith("Use “Drop duplicates”")
    empty = issue(result, "empty_rows")
    assert (empty["detail"], empty["where"]) == ("1 row has no values at all.", [{"line": 5}])
    spaces = issue(result, "whitespace")
    assert spaces["detail"] == "1 value starts or ends with spaces or line breaks."
    assert spaces["where"] == [{"line": 3, "note": "“desc”"}]
    assert result.report["empty_rows"] == 1 and result.report["duplicate_rows"] == 2
    assert result.report["usable_rows"] == 4


def test_validate_reports_empty_cells_per_column():
    result = check(b"question,answer\nHi?,Hello\nPrice?,\nHours?,\n")
    empty = issue(result, "empty_cells")
    assert empty["detail"] == "“answer” is empty on 2 of 3 rows."
    assert [w["line"] for w in empty["where"]] == [3, 4]


def test_validate_keeps_twenty_line_numbers_and_counts_the_rest():
    data = b"a,b\n" + b"x,y\n" * 30
    result = check(data)
    duplicates = issue(result, "duplicate_rows")
    assert duplicates["count"] == 29 and len(duplicates["where"]) == 20 and duplicates["more"] == 9


def test_validate_names_unnamed_columns_and_tolerates_trailing_delimiters():
    result = check(b"a,,c,\n1,2,3,\n4,5,6,\n")
    assert [c["name"] for c in result.columns] == ["a", "column_2", "c"]
    assert issue(result, "unnamed_columns")["detail"] == (
        "Column 2 has no name in the header row; we call it column_2."
    )
    assert result.row_count == 2 and result.usable


def test_validate_trailing_blank_lines_are_not_rows():
    result = check(b"a,b\n1,2\n\n\n")
    assert result.row_count == 1 and result.report["empty_rows"] == 0


def test_validate_with_no_problems_is_ready():
    data = b"text,label\n" + b"".join(f"message number {i},label{i % 3}\n".encode() for i in range(30))
    result = check(data)
    assert result.verdict == "ready" and result.report["verdict_label"] == "Ready"
    assert result.report["issues"] == []


def test_validate_notes_few_examples_without_changing_the_verdict():
    result = check(b"text,label\nhello,greeting\nbye,farewell\n")
    assert result.verdict == "ready"
    few = issue(result, "few_rows")
    assert (few["severity"], few["detail"]) == ("info", "The file has 2 examples.")


def test_validate_warns_about_rows_longer_than_the_token_limit_with_a_histogram():
    long_text = "word " * 1500
    data = f"text\nshort one\n{long_text}\n".encode()
    result = check(data, tokens=TokenCounter(lambda text: len(text.split())))
    long_rows = issue(result, "long_texts")
    assert long_rows["detail"] == "1 row is longer than about 1,024 tokens."
    assert long_rows["where"] == [{"line": 3, "note": "about 1,500 tokens"}]
    tokens = result.report["tokens"]
    assert tokens["method"] == "tokenizer" and tokens["max"] == 1500
    assert [b["count"] for b in tokens["histogram"]] == [1, 0, 0, 0, 0, 0, 1, 0]
    assert tokens["histogram"][0]["label"] == "1–32" and tokens["histogram"][-1]["label"] == "over 2048"


def test_validate_estimates_tokens_from_characters_without_a_tokenizer():
    result = check(b"text\n" + b"a" * 400 + b"\n", tokens=TokenCounter(use_model_tokenizer=False))
    assert result.report["tokens"]["method"] == "estimate"
    assert result.report["tokens"]["max"] == 100


def test_token_counter_counts_exactly_first_then_estimates_and_rechecks_near_the_limit():
    calls = []

    def count(text):
        calls.append(text)
        return len(text) // 2

    counter = TokenCounter(count)
    for _ in range(500):
        counter.add("x" * 20)
    assert counter.chars_per_token == 2.0 and len(calls) == 500
    assert counter.add("y" * 40) == 20 and len(calls) == 500  # estimated
    assert counter.add("z" * 3000) == 1500 and len(calls) == 501  # near the limit: counted exactly


def test_validate_stops_at_the_first_unreadable_line_but_keeps_what_it_found():
    data = b"a,b\n1,2\n1,2\n3,\"open\n"
    result = check(data)
    assert result.verdict == "unusable" and not result.fixable
    assert [i["code"] for i in result.report["issues"]] == ["unterminated_quote", "duplicate_rows", "few_rows"]
    assert result.report["tokens"] is None
