"""Running one batch through a step, in a thread or in a worker process.

Everything that crosses a process boundary is plain data (JSON text, tuples), so that a batch costs one small
pickle each way and the main process never re-serialises results.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from jobnode.service.steps import REGISTRY, BatchContext, ItemError, Step, load_step_modules, running_batch

LABEL_MAX = 256

#: one encoder for every result: `json.dumps(..., separators=...)` would build a new encoder on each call
encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class BatchOutcome:
    """What running a batch produced; `error` is set when the whole batch failed."""

    job_id: str
    batch: int
    attempt: int
    first_item: int
    labels: list[str]
    duration: float
    results_json: str | None = None
    item_errors: tuple[tuple[int, str], ...] = ()
    error: str | None = None


def item_label(item: Any, index: int) -> str:
    """How an item is named in logs: its `id`, `path` or `url`, a short string item itself, or its index."""
    if isinstance(item, dict):
        for key in ("id", "path", "url", "uri"):
            value = item.get(key)
            if isinstance(value, str | int):
                return str(value)[:LABEL_MAX]
    elif isinstance(item, str) and len(item) <= LABEL_MAX and "\n" not in item:
        return item
    return str(index)


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def execute_batch(
    step: Step,
    params: BaseModel,
    job_id: str,
    batch: int,
    attempt: int,
    first_item: int,
    items_json: str,
    is_cancelled: Callable[[], bool],
) -> BatchOutcome:
    items: list[Any] = json.loads(items_json)
    labels = [item_label(item, first_item + i) for i, item in enumerate(items)]
    start = time.perf_counter()
    ctx = BatchContext(job_id=job_id, batch=batch, attempt=attempt, is_cancelled=is_cancelled)

    def outcome(duration: float, **result: Any) -> BatchOutcome:
        return BatchOutcome(job_id, batch, attempt, first_item, labels, duration, **result)

    try:
        with running_batch(ctx):
            results = step.call(items, params)
    except Exception as exc:
        return outcome(time.perf_counter() - start, error=_describe(exc))
    duration = time.perf_counter() - start
    if not isinstance(results, list) or len(results) != len(items):
        got = len(results) if isinstance(results, list) else type(results).__name__
        return outcome(
            duration,
            error=f"step {step.name!r} returned {got} results for {len(items)} items "
            "(it must return a list, one per item)",
        )
    errors = tuple((i, r.message) for i, r in enumerate(results) if isinstance(r, ItemError))
    if errors:
        results = [None if isinstance(r, ItemError) else r for r in results]
    try:
        results_json = encode_json(results)
    except (TypeError, ValueError) as exc:
        return outcome(duration, error=f"step results are not JSON serialisable: {exc}")
    return outcome(duration, results_json=results_json, item_errors=errors)


# -- worker processes ------------------------------------------------------------------------------------------

_CANCEL_DIR = ""


def init_worker(step_modules: Sequence[str], cancel_dir: str) -> None:
    """Process-pool initializer: register the same steps as the service."""
    global _CANCEL_DIR
    _CANCEL_DIR = cancel_dir
    load_step_modules([m for m in step_modules if m != "jobnode.service.builtin_steps"])


def run_in_process(
    step_name: str,
    step_version: str,
    params_json: str,
    job_id: str,
    batch: int,
    attempt: int,
    first_item: int,
    items_json: str,
) -> BatchOutcome:
    flag = os.path.join(_CANCEL_DIR, job_id)
    try:
        step = REGISTRY.get(step_name, step_version)
        params = step.params_model.model_validate_json(params_json)
    except (LookupError, ValidationError) as exc:
        return BatchOutcome(job_id, batch, attempt, first_item, [], 0.0, error=f"worker could not load the step: {exc}")
    return execute_batch(step, params, job_id, batch, attempt, first_item, items_json, lambda: os.path.exists(flag))
