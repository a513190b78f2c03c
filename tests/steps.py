"""Processing steps that only the tests register (loaded with `--steps tests.steps`)."""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import BaseModel, ConfigDict

import jobnode


class MarkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marker_dir: str
    seconds: float = 0.0


@jobnode.step("record", version="1", description="Writes one marker file per item and attempt, for counting runs.")
def record(items: list[Any], params: MarkParams) -> list[Any]:
    ctx = jobnode.batch_context()
    for item in items:
        path = os.path.join(params.marker_dir, f"{ctx.job_id}-{item}-{ctx.batch}-{ctx.attempt}")
        with open(path, "w") as fh:
            fh.write("x")
    deadline = time.monotonic() + params.seconds
    while time.monotonic() < deadline and not ctx.cancelled():
        time.sleep(0.02)
    return [{"item": item, "attempt": ctx.attempt} for item in items]


@jobnode.step("upper", version="1")
def upper_v1(items: list[str]) -> list[str]:
    return [i.upper() for i in items]


@jobnode.step("upper", version="2")
def upper_v2(items: list[str]) -> list[str]:
    return [i.upper() + "!" for i in items]


class GateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gate: str
    held: list[str] = []


@jobnode.step("gate", version="1", description="Items in `held` wait until the file `gate` exists.")
def gate(items: list[Any], params: GateParams) -> list[Any]:
    """For tests that watch a job while it runs: the job cannot end before the test opens the gate."""
    ctx = jobnode.batch_context()
    if any(item in params.held for item in items):
        while not os.path.exists(params.gate) and not ctx.cancelled():
            time.sleep(0.02)
    return items


class FlakyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marker_dir: str
    fail_items: list[Any]


@jobnode.step("flaky", version="1", description="Fails the chosen items the first time each is seen, then not.")
def flaky(items: list[Any], params: FlakyParams) -> list[Any]:
    results: list[Any] = []
    for item in items:
        marker = os.path.join(params.marker_dir, f"seen-{item}")
        if item in params.fail_items and not os.path.exists(marker):
            with open(marker, "w") as fh:
                fh.write("x")
            results.append(jobnode.ItemError(f"item {item} failed on its first run"))
        else:
            results.append(item)
    return results
