"""A delimited file's items, as Cortex's `json.Decoder` reads them: a stream of JSON values."""

from __future__ import annotations

import pytest

from jobnode.platforms.cortex import ndjson


def test_one_value_per_line_with_their_sizes() -> None:
    data = '{"id": 1}\n\n{"id": "é"}\r\n[1, 2]\n'.encode()
    assert [(v.value, v.size) for v in ndjson.values(data)] == [({"id": 1}, 9), ({"id": "é"}, 12), ([1, 2], 6)]


def test_a_value_may_span_lines_and_values_may_share_one() -> None:
    data = b'{\n  "id": 1\n}{"id": 2} 3\n'
    assert [v.value for v in ndjson.values(data)] == [{"id": 1}, {"id": 2}, 3]


def test_nothing_but_whitespace_has_no_items() -> None:
    assert list(ndjson.values(b" \n\t\n")) == []
    assert list(ndjson.values(b"\xef\xbb\xbf")) == []  # a byte-order mark alone


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"id": 1}\n{"id": oops}\n', r"item 1: invalid JSON: Expecting value \(line 2, column 8\)"),
        (b'{"id": 1}\n{"id": 2', r"item 1: invalid JSON"),
        (b'\xff{"id": 1}', r"item 0: the file is not UTF-8 text"),
    ],
)
def test_a_bad_item_is_named(data: bytes, message: str) -> None:
    with pytest.raises(ndjson.BadItem, match=message):
        list(ndjson.values(data))


def test_the_bytes_an_item_takes_in_a_message_are_bounded_by_its_text() -> None:
    [plain, html, spaced] = ndjson.values('{"a": "é"}\n"<&>"\n{ "b" : 1 }\n'.encode())
    assert (plain.size, plain.message_size) == (11, 11)
    assert (html.size, html.message_size) == (5, 20)  # Go writes \u003c\u0026\u003e
    assert (spaced.size, spaced.message_size) == (11, 11)  # compact JSON takes 7: the bound is not exact
