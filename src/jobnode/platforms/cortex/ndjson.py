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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


class BadItem(ValueError):
    """A value that is not JSON; `index` is the item's number in the file (from 0)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"item {index}: {reason}")
        self.index = index


@dataclass(frozen=True)
class Value:
    """One item: its value and the bytes its text took in the file."""

    value: Any
    size: int


def values(data: bytes) -> Iterator[Value]:
    """Each JSON value of a file, in order.

    Raises:
        BadItem: the text from some point on is not a JSON value (or not UTF-8).
    """
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BadItem(0, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    ascii_only = text.isascii()
    index = 0
    position = _SPACE.match(text, 0).end()  # type: ignore[union-attr]  # the pattern matches the empty string
    end = len(text)
    while position < end:
        try:
            value, stop = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise BadItem(index, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        raw = stop - position if ascii_only else len(text[position:stop].encode())
        yield Value(value, raw)
        index += 1
        position = _SPACE.match(text, stop).end()  # type: ignore[union-attr]
