"""Processing steps that the Dataiku tests run as recipes (loaded with `--steps tests.platforms.dataiku.steps`).

With the default flow, each `compute_<D>` step is the recipe that builds dataset `<D>` from no input: it gets one
record describing the build. `dk_clean` is a recipe of the declared test flows (`flow.toml`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jobnode

#: what `jobnode serve --steps` loads for the Dataiku tests
DATAIKU_STEPS = __name__
#: the flows of the test projects (`JOBNODE_DATAIKU_FLOW`)
DATAIKU_FLOW = Path(__file__).with_name("flow.toml")


@jobnode.step("compute_dataset_to_build", version="1", description="The seed's dataset: three rows per build.")
def dataset_to_build(items: list[Any]) -> list[Any]:
    return [{"partition": item["partition"], "rows": 3, "built": True} for item in items]


@jobnode.step("compute_dk_slow", version="1", description="Takes 10 minutes (less when cancelled).")
def slow(items: list[Any]) -> list[Any]:
    ctx = jobnode.batch_context()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not ctx.cancelled():
        time.sleep(0.02)
    return list(items)


@jobnode.step("compute_dk_broken", version="1", description="Fails every record.")
def broken(items: list[Any]) -> list[Any]:
    return [jobnode.ItemError("the source system refused the extract") for _ in items]


@jobnode.step("compute_dk_flaky", version="1", description="Raises on a batch's first attempt, then works.")
def flaky(items: list[Any]) -> list[Any]:
    if jobnode.batch_context().attempt == 1:
        raise ConnectionError("the warehouse dropped the connection")
    return [{"ok": True, **item} for item in items]


@jobnode.step("dk_clean", version="1", description="Lower-cases `text`; fails a record with `fail`; waits `sleep`.")
def clean(items: list[Any]) -> list[Any]:
    ctx = jobnode.batch_context()
    out: list[Any] = []
    for item in items:
        deadline = time.monotonic() + float(item.get("sleep", 0))
        while time.monotonic() < deadline and not ctx.cancelled():
            time.sleep(0.02)
        if item.get("fail"):
            out.append(jobnode.ItemError(f"cannot clean {item.get('id')}"))
        else:
            out.append({**item, "text": str(item.get("text", "")).lower()})
    return out
