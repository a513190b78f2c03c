"""Processing steps the PinexQ tests run (loaded with `--steps tests.platforms.pinexq.steps`).

`my_function` is the seed's function, in two versions (so that asking for it by name alone is ambiguous);
`px_scale` maps records, failing one on request, for jobs over input WorkData;
`px_required` has a parameter without a default (a job of it is not ready until that is configured).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import jobnode

#: what `jobnode serve --steps` loads for the PinexQ tests
PINEXQ_STEPS = __name__


class MyFunctionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: int = Field(default=1, description="the number to work on")
    sleep: float = Field(default=0.0, ge=0, description="seconds to wait first (stopping early when cancelled)")
    fail: bool = Field(default=False, description="raise instead of returning")


def _wait(seconds: float) -> None:
    ctx = jobnode.batch_context()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ctx.cancelled():
        time.sleep(0.02)


@jobnode.step("my_function", version="1.0.0", description="Squares x.")
def my_function(items: list[Any], params: MyFunctionParams) -> list[Any]:
    _wait(params.sleep)
    if params.fail:
        raise ValueError(f"my_function refuses x={params.x}")
    return [{"x": params.x, "square": params.x**2} for _ in items]


@jobnode.step("my_function", version="2.0.0", description="Cubes x.")
def my_function_v2(items: list[Any], params: MyFunctionParams) -> list[Any]:
    _wait(params.sleep)
    return [{"x": params.x, "cube": params.x**3} for _ in items]


class RequiredParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="must be given: a job of this step is not ready until it is configured")


@jobnode.step("px_required", version="1", description="Repeats n; needs n.")
def required(items: list[Any], params: RequiredParams) -> list[Any]:
    return [{"n": params.n} for _ in items]


class ScaleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor: float = 2.0
    fail_on: list[Any] = Field(default_factory=list, description="values that fail")
    sleep: float = Field(default=0.0, ge=0)


@jobnode.step("px_scale", version="1", description="Multiplies each record's `value` by `factor`.")
def scale(items: list[Any], params: ScaleParams) -> list[Any]:
    _wait(params.sleep)
    out: list[Any] = []
    for item in items:
        value = item.get("value") if isinstance(item, dict) else item
        if value in params.fail_on:
            out.append(jobnode.ItemError(f"cannot scale {value!r}"))
        else:
            out.append({"value": value, "scaled": value * params.factor})
    return out
