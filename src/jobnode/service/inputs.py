"""Resolving a job's input into items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobnode.core.models import ItemsInput, JobInput


class InputError(ValueError):
    """An input that cannot be resolved; `field` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class ResolvedInput:
    items: list[Any]
    artifacts: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def resolve(spec_input: JobInput) -> ResolvedInput:
    if isinstance(spec_input, ItemsInput):
        return ResolvedInput(items=list(spec_input.items))
    raise InputError("input.kind", f"input kind {spec_input.kind!r} is not supported by this service yet")
