"""Processing steps: named, versioned Python callables with a pydantic parameter model.

A step takes the items of one batch and its validated parameters and returns one result per item, in order. An
item whose result is an `ItemError` (or that raised inside `item_guard`) fails alone; an exception out of the step
fails the whole batch, which is retried up to the job's `max_attempts` and then dead-lettered.

Example:
    ```python
    import jobnode
    from pydantic import BaseModel

    class Upper(BaseModel):
        suffix: str = ""

    @jobnode.step("upper", version="1")
    def upper(items: list[str], params: Upper) -> list[str]:
        return [item.upper() + params.suffix for item in items]
    ```
"""

from __future__ import annotations

import contextvars
import importlib
import inspect
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict

ENTRY_POINT_GROUP = "jobnode.steps"
BUILTIN_MODULE = "jobnode.service.builtin_steps"

Executor = Literal["thread", "process"]


class NoParams(BaseModel):
    """A step without parameters."""

    model_config = ConfigDict(extra="forbid")


class ItemError:
    """Return this as an item's result to fail that item alone."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"ItemError({self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ItemError, (self.message,))


@contextmanager
def item_guard(results: list[Any]) -> Iterator[None]:
    """Turn an exception raised while handling one item into that item's `ItemError`.

    Example:
        ```python
        out = []
        for item in items:
            with jobnode.item_guard(out):
                out.append(parse(item))
        return out
        ```
    """
    try:
        yield
    except Exception as exc:  # the item fails alone; the batch goes on
        results.append(ItemError(f"{type(exc).__name__}: {exc}"))


@dataclass
class BatchContext:
    """What a running step may ask about its batch."""

    job_id: str
    batch: int
    attempt: int
    is_cancelled: Callable[[], bool] = field(default=lambda: False)

    def cancelled(self) -> bool:
        return self.is_cancelled()


_context: contextvars.ContextVar[BatchContext | None] = contextvars.ContextVar("jobnode_batch", default=None)


def batch_context() -> BatchContext:
    """The batch the current step call is working on (job id, batch index, attempt, cancellation)."""
    ctx = _context.get()
    if ctx is None:
        return BatchContext(job_id="", batch=0, attempt=1)
    return ctx


@contextmanager
def running_batch(ctx: BatchContext) -> Iterator[None]:
    token = _context.set(ctx)
    try:
        yield
    finally:
        _context.reset(token)


@dataclass(frozen=True)
class Step:
    name: str
    version: str
    fn: Callable[..., list[Any]]
    params_model: type[BaseModel]
    executor: Executor
    description: str
    module: str

    @property
    def takes_params(self) -> bool:
        return len(inspect.signature(self.fn).parameters) >= 2

    def call(self, items: list[Any], params: BaseModel) -> list[Any]:
        if self.takes_params:
            return self.fn(items, params)
        return self.fn(items)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "executor": self.executor,
            "module": self.module,
            "params_schema": self.params_model.model_json_schema(),
        }


def _version_key(version: str) -> tuple[tuple[int, Any], ...]:
    """Natural order: "10" after "9", "1.10" after "1.9"."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-_]", version))


class UnknownStep(LookupError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class StepRegistry:
    """The steps a service can run."""

    def __init__(self) -> None:
        self._steps: dict[str, dict[str, Step]] = {}
        self._lock = threading.Lock()

    def add(self, step: Step) -> None:
        with self._lock:
            self._steps.setdefault(step.name, {})[step.version] = step

    def get(self, name: str, version: str | None = None) -> Step:
        versions = self._steps.get(name)
        if not versions:
            known = ", ".join(sorted(self._steps)) or "none"
            raise UnknownStep("step", f"unknown step {name!r}; registered steps: {known}")
        if version is None:
            return versions[max(versions, key=_version_key)]
        if version not in versions:
            raise UnknownStep(
                "step_version",
                f"step {name!r} has no version {version!r}; versions: {', '.join(sorted(versions, key=_version_key))}",
            )
        return versions[version]

    def all(self) -> list[Step]:
        return [
            s
            for name in sorted(self._steps)
            for s in sorted(self._steps[name].values(), key=lambda s: _version_key(s.version))
        ]


REGISTRY = StepRegistry()


def _params_model(fn: Callable[..., Any]) -> type[BaseModel]:
    params = list(inspect.signature(fn).parameters.values())
    if len(params) < 2:
        return NoParams
    try:
        model = get_type_hints(fn).get(params[1].name)
    except NameError:
        model = None
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model
    raise TypeError(
        f"the second parameter of step {fn.__name__} must be annotated with a pydantic model "
        "defined at module level, or pass params=Model to @jobnode.step"
    )


def step(
    name: str,
    *,
    version: str = "1",
    params: type[BaseModel] | None = None,
    executor: Executor = "thread",
    description: str | None = None,
    registry: StepRegistry | None = None,
) -> Callable[[Callable[..., list[Any]]], Callable[..., list[Any]]]:
    """Register a processing step.

    `executor="process"` runs batches in worker processes (CPU-bound work uses every core); `"thread"` (the
    default) runs them in threads (I/O-bound work, and steps that cannot be pickled).
    """

    def register(fn: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        doc = description or (inspect.getdoc(fn) or "").split("\n\n")[0]
        (registry or REGISTRY).add(
            Step(
                name=name,
                version=str(version),
                fn=fn,
                params_model=params or _params_model(fn),
                executor=executor,
                description=doc,
                module=fn.__module__,
            )
        )
        return fn

    return register


def load_step_modules(modules: Sequence[str], *, entry_point_group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Import the built-ins, the named modules and every `jobnode.steps` entry point; return what was loaded."""
    loaded = [BUILTIN_MODULE, *modules]
    for name in loaded:
        importlib.import_module(name)
    for ep in entry_points(group=entry_point_group):
        ep.load()
        loaded.append(ep.value.split(":")[0])
    return loaded
