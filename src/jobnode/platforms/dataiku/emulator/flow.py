"""Projects' flows, as the person running the emulator declares them, and the build plan of a job.

A flow says, for each dataset of a project, the recipe that builds it, the processing step of the local service
that recipe runs (with its parameters) and the datasets it reads. A dataset that no recipe builds is an uploaded
dataset (a source: its data is uploaded with `POST .../uploaded/files`).

The declaration is a TOML or JSON file named by `JOBNODE_DATAIKU_FLOW`; each key of `projects` is a project key or
a glob pattern of keys (`REVIEWS_*`), so that many projects can share one flow:

```toml
[projects.REVIEWS.datasets.reviews]                     # uploaded: no recipe builds it
[projects.REVIEWS.datasets.reviews_staged]
recipe = "identity"                                     # the recipe (default: compute_<dataset>)
inputs = ["reviews"]                                    # its step is the recipe's name unless `step` says otherwise
[projects.REVIEWS.datasets.reviews_scored]
recipe = "sentiment"
params = {neutral_band = 0.1}                           # the step's parameters
inputs = ["reviews_staged"]
partitioned = false                                     # true: built one partition at a time
```

A project that no key matches (every project, when nothing is declared) has the default flow: each processing
step called `compute_<D>` is the recipe `compute_<D>`, which builds the dataset `<D>` from no input; any other
dataset name is an uploaded dataset.

Build types (`plan_build`): `NON_RECURSIVE_FORCED_BUILD` runs the targets' recipes only; the recursive types also
run what is upstream first, each dataset once, in flow order: `RECURSIVE_FORCED_BUILD` every upstream dataset a
recipe builds, `RECURSIVE_MISSING_ONLY_BUILD` those that hold no data, `RECURSIVE_BUILD` those that hold no data or
are older than one of their inputs (or whose inputs are rebuilt). Targets are always built. A partitioned dataset
reads the same partition of a partitioned input and the whole of one that is not.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jobnode.core.errors import ConfigurationError
from jobnode.platforms.dataiku import wire

FLOW_ENV = "JOBNODE_DATAIKU_FLOW"
#: what DSS accepts as the name of a dataset or a recipe
NAME = re.compile(r"^[A-Za-z0-9_]+$")
RECIPE_PREFIX = "compute_"
#: every partition of a partitioned dataset (what a dataset that is not partitioned reads of it)
ALL_PARTITIONS = "ALL"
FORCED, MISSING_ONLY, SMART = "RECURSIVE_FORCED_BUILD", "RECURSIVE_MISSING_ONLY_BUILD", "RECURSIVE_BUILD"
NON_RECURSIVE = "NON_RECURSIVE_FORCED_BUILD"


class DatasetDeclaration(BaseModel):
    """One dataset of a declared flow; one with no recipe, step or inputs is an uploaded dataset."""

    model_config = ConfigDict(extra="forbid")

    recipe: str | None = Field(default=None, pattern=NAME.pattern, description="default: compute_<dataset>")
    step: str | None = Field(default=None, min_length=1, description="default: the recipe's name")
    params: dict[str, Any] = Field(default_factory=dict, description="the step's parameters")
    inputs: list[str] = Field(default_factory=list, description="the datasets the recipe reads")
    partitioned: bool = False

    @property
    def is_source(self) -> bool:
        return self.recipe is None and self.step is None and not self.inputs


class ProjectDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    datasets: dict[str, DatasetDeclaration] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ProjectDeclaration:
        recipes: dict[str, str] = {}
        for name, dataset in self.datasets.items():
            if not NAME.match(name):
                raise ValueError(f"datasets.{name}: a dataset name is letters, digits and underscores")
            for index, source in enumerate(dataset.inputs):
                if source not in self.datasets:
                    raise ValueError(f"datasets.{name}.inputs.{index}: {source!r} is not a dataset of this project")
            if dataset.is_source:
                continue
            recipe = dataset.recipe or RECIPE_PREFIX + name
            if recipe in recipes:
                raise ValueError(f"datasets.{name}.recipe: recipe {recipe} already builds {recipes[recipe]}")
            if recipe in self.datasets:
                raise ValueError(f"datasets.{name}.recipe: {recipe} is also a dataset's name; name the recipe apart")
            recipes[recipe] = name
        for name in self.datasets:
            _check_acyclic(self.datasets, name, ())
        return self


def _check_acyclic(datasets: Mapping[str, DatasetDeclaration], name: str, path: tuple[str, ...]) -> None:
    if name in path:
        raise ValueError(f"datasets.{name}.inputs: the flow goes round in a circle ({' -> '.join((*path, name))})")
    for source in datasets[name].inputs:
        _check_acyclic(datasets, source, (*path, name))


class FlowDeclaration(BaseModel):
    """Every declared project flow, by project key or glob pattern of keys."""

    model_config = ConfigDict(extra="forbid")

    projects: dict[str, ProjectDeclaration] = Field(default_factory=dict)

    def project(self, project_key: str) -> ProjectDeclaration | None:
        """The flow of a project key: its own entry, else the first pattern that matches it."""
        if project_key in self.projects:
            return self.projects[project_key]
        return next((p for key, p in self.projects.items() if fnmatch.fnmatchcase(project_key, key)), None)

    @classmethod
    def load(cls, path: Path) -> FlowDeclaration:
        """A declaration from a TOML (`.toml`) or JSON file.

        Raises:
            ConfigurationError: the file cannot be read or is not a valid declaration; the message names the field.
        """
        try:
            text = path.read_text(encoding="utf-8")
            raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{FLOW_ENV}: cannot read the flow declaration {path}: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()[:5]
            )
            raise ConfigurationError(f"{FLOW_ENV}: the flow declaration {path} is not valid: {problems}") from None

    @classmethod
    def from_env(cls) -> FlowDeclaration:
        """The declaration the environment names (`JOBNODE_DATAIKU_FLOW`), or none."""
        path = os.environ.get(FLOW_ENV)
        return cls.load(Path(path)) if path else cls()


# -- a project's flow at run time -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A dataset of a flow. `recipe` is None for an uploaded dataset; `partitioned` is None when the dataset
    takes whatever partition a job names (the default flow)."""

    name: str
    recipe: str | None = None
    step: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    partitioned: bool | None = None

    def partition(self, requested: str | None, *, field: str) -> str:
        """The partition a job builds or reads (`NP` for a dataset that is not partitioned).

        Raises:
            ValueError: `requested` does not fit the dataset; the message names `field`.
        """
        given = requested if requested not in (None, "", wire.NOT_PARTITIONED) else None
        if self.partitioned and given is None:
            raise ValueError(f"{field}: dataset {self.name} is partitioned; name the partition to build")
        if self.partitioned is False and given is not None:
            raise ValueError(f"{field}: dataset {self.name} is not partitioned; leave the partition out (or NP)")
        return given or wire.NOT_PARTITIONED

    @staticmethod
    def input_partition(source: Dataset, partition: str) -> str:
        """The partition of `source` that building `partition` of a dataset reads: the same one of a partitioned
        source (all of them, `ALL`, for a dataset that is not partitioned), the whole of one that is not."""
        if not source.partitioned:
            return wire.NOT_PARTITIONED
        return ALL_PARTITIONS if partition == wire.NOT_PARTITIONED else partition


class Flow:
    """One project's flow: its datasets by name, and its recipes."""

    def __init__(self, project_key: str, datasets: Iterable[Dataset]) -> None:
        self.project_key = project_key
        self.datasets = {d.name: d for d in datasets}
        self.recipes = {d.recipe: d for d in self.datasets.values() if d.recipe is not None}

    @classmethod
    def declared(cls, project_key: str, declaration: ProjectDeclaration) -> Flow:
        return cls(
            project_key,
            (
                Dataset(name=name)
                if d.is_source
                else Dataset(
                    name=name,
                    recipe=d.recipe or RECIPE_PREFIX + name,
                    step=d.step or d.recipe or RECIPE_PREFIX + name,
                    params=d.params,
                    inputs=tuple(d.inputs),
                    partitioned=d.partitioned,
                )
                for name, d in declaration.datasets.items()
            ),
        )

    @classmethod
    def default(cls, project_key: str, steps: Iterable[str], uploaded: Iterable[str]) -> Flow:
        """The flow of an undeclared project: `compute_<D>` builds `<D>` for each step so named; `uploaded` are the
        project's uploaded datasets so far."""
        built = [
            Dataset(name=s.removeprefix(RECIPE_PREFIX), recipe=s, step=s)
            for s in dict.fromkeys(steps)
            if s.startswith(RECIPE_PREFIX) and NAME.match(s.removeprefix(RECIPE_PREFIX))
        ]
        names = {d.name for d in built}
        return cls(project_key, [*built, *(Dataset(name=u) for u in uploaded if u not in names)])

    def dataset(self, name: str) -> Dataset | None:
        return self.datasets.get(name)

    def graph(self) -> wire.FlowGraph:
        """The flow as `GET .../flow/graph/` gives it."""
        nodes: dict[str, wire.FlowNode] = {
            name: wire.FlowNode(ref=name, type=wire.DATASET_NODE) for name in self.datasets
        }
        for recipe, dataset in self.recipes.items():
            nodes[recipe] = wire.FlowNode(
                ref=recipe, type=wire.RECIPE_NODE, predecessors=list(dataset.inputs), successors=[dataset.name]
            )
            nodes[dataset.name].predecessors.append(recipe)
            for source in dataset.inputs:
                nodes[source].successors.append(recipe)
        return wire.FlowGraph(nodes=nodes)


# -- the plan of a build job ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedActivity:
    """One recipe run of a job: building `partition` of `dataset` from `sources` (dataset, partition)."""

    dataset: str
    partition: str
    recipe: str
    step: str
    params: Mapping[str, Any]
    sources: tuple[tuple[str, str], ...]

    @property
    def activity_id(self) -> str:
        """DSS names an activity after its recipe and partition: `compute_sales_NP`."""
        return f"{self.recipe}_{self.partition}"


def plan_build(
    flow: Flow,
    targets: list[tuple[str, str]],
    build_type: str,
    built_at: Callable[[str, str], int | None],
) -> list[PlannedActivity]:
    """The activities of a job that builds `targets` (dataset, partition), upstream first.

    `built_at(dataset, partition)` is when a partition's data was written (epoch ms), or None when it has none.

    Example:
        ```python
        plan_build(flow, [("scored", "NP")], "RECURSIVE_FORCED_BUILD", lambda d, p: None)
        # [PlannedActivity(dataset="staged", ...), PlannedActivity(dataset="scored", ...)]
        ```
    """
    order: list[PlannedActivity] = []
    decided: dict[tuple[str, str], bool] = {}

    def visit(name: str, partition: str, target: bool) -> bool:
        """Whether the partition is (re)built by this job; plans its upstream first."""
        key = (name, partition)
        if key in decided and not target:
            return decided[key]
        dataset = flow.datasets[name]
        if dataset.recipe is None or dataset.step is None or partition == ALL_PARTITIONS:
            decided[key] = False
            return False
        sources = tuple((s, dataset.input_partition(flow.datasets[s], partition)) for s in dataset.inputs)
        upstream_rebuilt = False
        if build_type != NON_RECURSIVE:
            for source in sources:
                upstream_rebuilt = visit(*source, target=False) or upstream_rebuilt
        build = target or _should_build(build_type, built_at(name, partition), upstream_rebuilt, sources, built_at)
        if build and not decided.get(key, False):
            order.append(PlannedActivity(name, partition, dataset.recipe, dataset.step, dict(dataset.params), sources))
        decided[key] = decided.get(key, False) or build
        return build

    for name, partition in targets:
        visit(name, partition, target=True)
    return order


def _should_build(
    build_type: str,
    built: int | None,
    upstream_rebuilt: bool,
    sources: tuple[tuple[str, str], ...],
    built_at: Callable[[str, str], int | None],
) -> bool:
    if build_type == FORCED:
        return True
    if build_type == MISSING_ONLY:
        return built is None
    if build_type == SMART:
        newer = any((t := built_at(*s)) is not None and built is not None and t > built for s in sources)
        return built is None or upstream_rebuilt or newer
    return False


class Flows:
    """The flow of each project: its declared one, else the default flow (see the module's docstring)."""

    def __init__(
        self,
        declaration: FlowDeclaration,
        *,
        steps: Callable[[], Iterable[str]],
        uploaded: Callable[[str], Iterable[str]],
    ) -> None:
        self.declaration = declaration
        self._steps = steps
        self._uploaded = uploaded
        self._declared: dict[str, Flow] = {}

    def get(self, project_key: str) -> Flow:
        if project_key in self._declared:
            return self._declared[project_key]
        declared = self.declaration.project(project_key)
        if declared is not None:
            flow = self._declared[project_key] = Flow.declared(project_key, declared)
            return flow
        return Flow.default(project_key, self._steps(), self._uploaded(project_key))

    def is_declared(self, project_key: str) -> bool:
        return self.declaration.project(project_key) is not None

    def declared_keys(self) -> list[str]:
        """The declared project keys that are keys, not patterns."""
        return [key for key in self.declaration.projects if not any(c in key for c in "*?[")]
