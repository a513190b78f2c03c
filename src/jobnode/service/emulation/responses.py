"""JSON in and out of an emulator: strict request bodies (whatever their content type) and compact answers."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from jobnode.service.errors import InvalidRequest


def json_response(body: Any, status: int = 200, *, media_type: str = "application/json") -> Response:
    """A compact JSON answer (no spaces, non-ASCII kept)."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return Response(text.encode("utf-8"), status_code=status, media_type=media_type)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON; send numbers as numbers")


def parse_json(raw: bytes | str, *, field: str = "body") -> Any:
    """A request body as JSON: standard JSON only (no NaN or Infinity), valid UTF-8 (no lone surrogates).

    Raises:
        InvalidRequest: the body is not such JSON; the message says where.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_no_constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\\ud800) cannot be stored
    except UnicodeError:
        raise InvalidRequest(
            field, "not valid UTF-8 text (a lone surrogate such as \\ud800?); send UTF-8 JSON"
        ) from None
    except ValueError as exc:
        raise InvalidRequest(field, f"not valid JSON ({exc}); send a JSON document") from None
    return value


async def read_json(request: Request, *, field: str = "body") -> Any:
    """The request's body as JSON, whatever its `Content-Type` says (some SDKs send none)."""
    return parse_json(await request.body(), field=field)
