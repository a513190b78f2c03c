"""Processing steps that the Cortex tests serve as Batch APIs (loaded with `--steps tests.platforms.cortex.steps`).

`image-classifier` stands in for the seed's image classifier; `test-api` does what each item asks, so that one job
can hold batches that succeed, fail some attempts, or take their time.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import BaseModel, ConfigDict

import jobnode

#: what `jobnode serve --steps` loads for the Cortex tests
CORTEX_STEPS = __name__


class ClassifierParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = 1


@jobnode.step("image-classifier", version="1", description="A stand-in classifier: labels image paths by number.")
def classify(items: list[Any], params: ClassifierParams) -> list[Any]:
    """An odd image number is a cat, an even one a dog."""
    out = []
    for item in items:
        number = re.findall(r"\d+", str(item))
        label = "cat" if number and int(number[-1]) % 2 else "dog"
        out.append({"url": item, "class": label, "top_k": params.top_k})
    return out


@jobnode.step("test-api", version="1", description="Does what each item asks: fail attempts, fail alone, sleep.")
def behave(items: list[Any]) -> list[Any]:
    """`{"fail_attempts": n}` fails its whole batch on the first n attempts; `{"fail": true}` fails alone;
    `{"sleep": s}` waits first (stopping early when the job is stopped)."""
    ctx = jobnode.batch_context()
    out: list[Any] = []
    for item in items:
        spec = item if isinstance(item, dict) else {}
        if ctx.attempt <= int(spec.get("fail_attempts", 0)):
            raise RuntimeError(f"attempt {ctx.attempt} of batch {ctx.batch} fails on purpose")
        deadline = time.monotonic() + float(spec.get("sleep", 0))
        while time.monotonic() < deadline and not ctx.cancelled():
            time.sleep(0.02)
        out.append(jobnode.ItemError("fails on purpose") if spec.get("fail") else {"item": item, "ok": True})
    return out
