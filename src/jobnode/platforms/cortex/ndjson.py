"""The items of a newline-delimited JSON file, read as Cortex reads a `delimited_files` input.

Cortex decodes each file with Go's `json.Decoder`: a stream of JSON values separated by whitespace (one per line
in practice, but a value may span lines). Each value is one item; a file that is not such a stream fails the job's
enqueuing, naming the item. Job results written under a results prefix are read back the same way.

Example:
    ```python
    [(v.value, v.size) for v in values(b'{"id": 1}\\n{"id": 2}\\n')]   # [({"id": 1}, 9), ({"id": 2}, 9)]
    ```
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()
# the C scanner behind `raw_decode`, called directly: 2-3x faster per value; what it refuses goes through
# `raw_decode`, which words the error
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_SPACE = re.compile(r"[ \t\n\r]*")
#: characters Go's `json.Marshal` escapes in a message: `<`, `>`, `&` (6 bytes for 1) and U+2028, U+2029 (6 for 3)
_ESCAPED = re.compile("[<>&\u2028\u2029]")


class BadItem(ValueError):
    """A value that is not JSON; `index` is the item's number in the file (from 0)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"item {index}: {reason}")
        self.index = index


@dataclass(frozen=True, slots=True)
class Value:
    """One item: its value, the bytes its text took in the file, and at most how many bytes it takes in a message
    (its text, with Go's escapes; compact JSON may take fewer)."""

    value: Any
    size: int
    message_size: int


def _escapes(text: str) -> int:
    return sum(5 if c in "<>&" else 3 for c in _ESCAPED.findall(text))


def values(data: bytes) -> Iterator[Value]:
    """Each JSON value of a file, in order.

    Raises:
        BadItem: the text from some point on is not a JSON value (or not UTF-8).
    """
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BadItem(0, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    plain = text.isascii() and _ESCAPED.search(text) is None  # then an item's bytes are its characters
    skip = _SPACE.match
    index = 0
    position = skip(text, 0).end()  # type: ignore[union-attr]  # the pattern matches the empty string
    end = len(text)
    while position < end:
        try:
            value, stop = _SCAN(text, position)
        except (StopIteration, ValueError):
            try:
                value, stop = _DECODER.raw_decode(text, position)
            except json.JSONDecodeError as exc:
                raise BadItem(index, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if plain:
            yield Value(value, stop - position, stop - position)
        else:
            raw = text[position:stop]
            size = len(raw.encode())
            yield Value(value, size, size + _escapes(raw))
        index += 1
        position = skip(text, stop).end()  # type: ignore[union-attr]
