"""The work of Nucleus's async jobs, as processing steps of the local service: checking each uploaded item or
annotation, one engine item each. What passes is the step's result, which the emulator stores into the dataset once
the job has ended (`context.Nucleus.settle`); what fails is an item error whose message is the upload error string
that `job/{id}/errors` returns, in the seed's form.

Registered when the emulator is imported (`jobnode serve --platform nucleus` imports it before its engine starts).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from jobnode.platforms.nucleus import wire
from jobnode.service.emulation import ItemError, step

APPEND_STEP = "nucleus_append"
ANNOTATE_STEP = "nucleus_annotate"


def _problem(model: type[wire.Wire], unit: Any) -> str | None:
    if not isinstance(unit, dict):
        return f"expected a JSON object, got {type(unit).__name__}"
    try:
        checked = model.model_validate(unit)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"{field}: {'required' if first['type'] == 'missing' else first['msg']}"
    if isinstance(checked, wire.Annotation) and checked.type not in wire.ANNOTATION_TYPES:
        return f"type: unknown annotation type {checked.type!r}; use one of {', '.join(wire.ANNOTATION_TYPES)}"
    return None


@step(APPEND_STEP, version="1", description="Scale Nucleus: check the items of an async append (stored at its end).")
def append(units: list[Any]) -> list[Any]:
    """Each engine item is `{"id": reference_id, "item": payload}`; the result is the payload."""
    out: list[Any] = []
    for unit in units:
        item = unit["item"]
        problem = _problem(wire.DatasetItem, item)
        out.append(ItemError(wire.upload_error("item", item, problem)) if problem else item)
    return out


@step(ANNOTATE_STEP, version="1", description="Scale Nucleus: check the annotations of an async annotate.")
def annotate(units: list[Any]) -> list[Any]:
    """Each engine item is `{"id": reference_id, "annotation": payload, "item_exists": bool}` (whether the dataset
    had an item of that reference id when the job was submitted); the result is the annotation."""
    out: list[Any] = []
    for unit in units:
        annotation = unit["annotation"]
        problem = _problem(wire.Annotation, annotation)
        if problem is None and not unit["item_exists"]:
            problem = wire.missing_item_error(annotation["reference_id"])
        out.append(ItemError(wire.upload_error("annotation", annotation, problem)) if problem else annotation)
    return out
