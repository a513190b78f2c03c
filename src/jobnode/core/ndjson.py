"""Newline-delimited JSON, the format platforms upload datasets in: items encoded one compact line each, and files
read and joined into one such text.

Example:
    ```python
    from jobnode.core import ndjson

    ndjson.encode([{"url": "a.jpg"}, {"url": "b.jpg"}])  # b'{"url":"a.jpg"}\\n{"url":"b.jpg"}\\n'
    ```
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import fsspec


def encode(items: Iterable[Any]) -> bytes:
    """Each item as one line of compact JSON; NaN and infinities are refused (they are not JSON)."""
    try:
        return "".join(
            json.dumps(i, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n" for i in items
        ).encode()
    except ValueError:
        raise ValueError("items: NaN and infinity are not JSON; send null or a string instead") from None


def read(paths: Sequence[str]) -> bytes:
    """The files (local paths or any fsspec URL) joined into one newline-delimited text, each ending with a newline.
    It blocks: async code calls it in a thread."""
    parts: list[bytes] = []
    for path in paths:
        with fsspec.open(path, "rb") as fh:
            data = fh.read()
        parts.append(data if data.endswith(b"\n") or not data else data + b"\n")
    return b"".join(parts)
