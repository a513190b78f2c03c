"""Opaque page cursors: a few integers (keyset positions) in URL-safe base64 JSON, checked when they come back."""

from __future__ import annotations

import base64
import binascii
import json

#: SQLite integers are signed 64-bit: a cursor position outside this range cannot be one this service made
_MIN, _MAX = -(2**63), 2**63 - 1


class BadCursor(ValueError):
    """A cursor this service did not make."""


def encode_cursor(**fields: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, allowed: set[str]) -> dict[str, int]:
    """The fields of a cursor this service made (exactly one of `allowed`), or `BadCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("not a cursor this service made") from exc
    if (
        not isinstance(fields, dict)
        or len(fields) != 1
        or not set(fields) <= allowed
        or not all(isinstance(v, int) and not isinstance(v, bool) and _MIN <= v <= _MAX for v in fields.values())
    ):
        raise BadCursor("not a cursor this service made")
    return fields
