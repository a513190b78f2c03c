"""JSON in and out of an emulator: strict request bodies (whatever their content type) and compact answers.

Strict JSON is standard JSON that the store can keep: no `NaN` or `Infinity`, no lone surrogate (`"\\ud800"`, which
is not text), and nesting no deeper than Python's parser goes. `parse_json` reads such a body; `StrictJSONRoute`
makes a FastAPI router's body parameters read it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from jobnode.service.errors import InvalidRequest


def json_response(body: Any, status: int = 200, *, media_type: str = "application/json") -> Response:
    """A compact JSON answer (no spaces, non-ASCII kept)."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return Response(text.encode("utf-8"), status_code=status, media_type=media_type)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON; send numbers as numbers")


def strict_loads(raw: bytes | str) -> Any:
    """A JSON document, strictly (see the module's docstring).

    Raises:
        json.JSONDecodeError: it is not such JSON; the message says why.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("not UTF-8 text", "", exc.start) from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
    except ValueError as exc:
        raise json.JSONDecodeError(str(exc), "", 0) from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise json.JSONDecodeError("a lone surrogate such as \\ud800 is not text", "", 0) from None
    return value


def parse_json(raw: bytes | str, *, field: str = "body") -> Any:
    """A request body as strict JSON.

    Raises:
        InvalidRequest: the body is not such JSON; the message says where.
    """
    try:
        return strict_loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(field, f"not valid JSON ({exc.msg}); send a JSON document") from None


async def read_json(request: Request, *, field: str = "body") -> Any:
    """The request's body as JSON, whatever its `Content-Type` says (some SDKs send none)."""
    return parse_json(await request.body(), field=field)


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is read strictly; a body that is not strict JSON is the route's validation error
    (`json_invalid`, rendered by `install_error_handlers` as naming the `body`).

    Example:
        ```python
        router = APIRouter(route_class=StrictJSONRoute)
        ```
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict
