"""The step catalogue: every registered processing step, each version, and the parameters it takes."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobnode.service.console.pages import page
from jobnode.service.jobs import JobService
from jobnode.service.views import CONSOLE_PATH

router = APIRouter()


def _type(schema: dict[str, Any]) -> str:
    """A JSON schema's type in a few words (`integer`, `string or null`, `Mode`)."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return f"list of {_type(schema['items'])}"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    return str(schema.get("type", "any"))


def parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A parameter model's fields: name, type, whether required, default and description."""
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "type": _type(field),
            "required": name in required,
            "default": json.dumps(field["default"]) if "default" in field else "",
            "description": field.get("description", ""),
        }
        for name, field in schema.get("properties", {}).items()
    ]


@router.get(f"{CONSOLE_PATH}/steps")
def steps_page(request: Request) -> Response:
    """The registered steps by name, each with its versions, newest first."""
    service: JobService = request.app.state.service
    by_name: dict[str, list[dict[str, Any]]] = {}
    for step in service.steps():  # by name, then oldest version first
        described = step.describe()
        described.update(
            parameters=parameters(described["params_schema"]),
            schema=json.dumps(described["params_schema"], indent=2),
        )
        by_name.setdefault(step.name, []).insert(0, described)
    return page(request, "steps.html", steps=by_name)
