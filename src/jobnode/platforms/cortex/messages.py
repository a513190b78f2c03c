"""Cortex's queue messages: each batch of a job is one SQS message, and both ends check its size.

Cortex sends a batch as the JSON array of its items, written by Go's `json.Marshal`: compact, with `<`, `>` and
`&` escaped as `\\u003c`, `\\u003e`, `\\u0026` (and U+2028, U+2029 as `\\u2028`, `\\u2029`). A message may hold
256,000 bytes (`_messageSizeLimit`: SQS's 256 KiB, less 6 KiB that Cortex keeps for message attributes), and so
may one item; a submission's body may hold 10 MiB. These are the documented limits ("each batch must be smaller than
256 KiB, and the total request size must be less than 10 MiB"), in the operator's own numbers.

Pure functions: the backend checks a job before sending it, the emulator checks what it enqueues.

Example:
    ```python
    oversized(["a" * 200_000, "b" * 100_000], 2)   # Oversized(index=0, first=0, stop=2, size=300007)
    ```
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: the most bytes of one message (a batch) and of one item
MESSAGE_LIMIT = 250 * 1024
#: the most bytes of a job submission's body
REQUEST_LIMIT = 10 << 20

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_HTML = ("<", ">", "&")
_SEPARATORS = ("\u2028", "\u2029")


def compact(value: Any) -> str:
    """The compact JSON of a value (non-ASCII kept, as Go writes it)."""
    return _encode(value)


def json_size(text: str, *, escaped: bool = True) -> int:
    """The bytes of a JSON text, as Go's `json.Marshal` writes it when `escaped` (HTML characters escaped)."""
    size = len(text) if text.isascii() else len(text.encode())
    if escaped:
        size += 5 * sum(text.count(c) for c in _HTML) + 3 * sum(text.count(c) for c in _SEPARATORS)
    return size


def item_size(value: Any) -> int:
    """The bytes of one item as it travels in a submission (compact JSON)."""
    return json_size(compact(value), escaped=False)


def batch_size(sizes: Sequence[int]) -> int:
    """The bytes of the message of a batch whose items take `sizes` bytes each (escaped): `[a,b,...]`."""
    return 2 + sum(sizes) + max(0, len(sizes) - 1)


@dataclass(frozen=True)
class Oversized:
    """A batch over the message limit: its index, its items `first` to `stop` (exclusive), its size in bytes."""

    index: int
    first: int
    stop: int
    size: int

    def cortex_error(self, batch_size_: int) -> str:
        """The error Cortex logs when it cannot enqueue an `item_list` batch (`enqueueItems`)."""
        where = f"item {self.index}" if batch_size_ == 1 else f"items with index between {self.first} to {self.stop}"
        return f"{where}: {exceeds(self.size)}"


def exceeds(size: int) -> str:
    """Cortex's `ErrorMessageExceedsMaxSize`."""
    return (
        f"cannot enqueue message because its size of {size} bytes exceeds the {MESSAGE_LIMIT} bytes limit; use a "
        "smaller batch size or reduce the size of each of item in the batch"
    )


def oversized(items: Sequence[Any], batch_size_: int, *, sizes: Sequence[int] | None = None) -> Oversized | None:
    """The first batch of `items` (cut every `batch_size_`) whose message would exceed the limit, or None.

    `sizes` are the items' escaped sizes when the caller has them (else they are measured here).
    """
    measured = list(sizes) if sizes is not None else [json_size(compact(item)) for item in items]
    for index, first in enumerate(range(0, len(measured), batch_size_)):
        stop = min(first + batch_size_, len(measured))
        size = batch_size(measured[first:stop])
        if size > MESSAGE_LIMIT:
            return Oversized(index=index, first=first, stop=stop, size=size)
    return None
