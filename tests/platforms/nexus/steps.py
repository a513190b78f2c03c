"""A processing step that the Nexus tests deploy (loaded with `--steps tests.platforms.nexus.steps`).

Served by the emulator as `deploy_nx_predict` and `artifact_nx_predict`. Each item says how it behaves, so that
one dataset can hold items that succeed, fail, or take their time.
"""

from __future__ import annotations

import time
from typing import Any

import jobnode

#: what `jobnode serve --steps` loads for the Nexus tests
NEXUS_STEPS = __name__


@jobnode.step("nx_predict", version="1", description="A stand-in model: labels items; fails or waits on request.")
def predict(items: list[Any]) -> list[Any]:
    """`{"url": ..., "fail": true}` fails alone; `{"sleep": seconds}` waits first (stopping early when cancelled)."""
    ctx = jobnode.batch_context()
    out: list[Any] = []
    for item in items:
        spec = item if isinstance(item, dict) else {}
        deadline = time.monotonic() + float(spec.get("sleep", 0))
        while time.monotonic() < deadline and not ctx.cancelled():
            time.sleep(0.02)
        if spec.get("fail"):
            out.append(jobnode.ItemError(f"cannot predict {spec.get('url', item)}"))
        else:
            out.append({"url": spec.get("url"), "label": "cell", "confidence": 0.9})
    return out
