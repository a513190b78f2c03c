"""A step that kills the service's process, as a segfault in a native library would (loaded by tests/e2e/test_crash)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict

import jobnode


class PoisonParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    poison: int


@jobnode.step("poison", version="1", description="Ends the whole process on the item that equals `poison`.")
def poison(items: list[Any], params: PoisonParams) -> list[Any]:
    if params.poison in items:
        os._exit(70)
    return items
