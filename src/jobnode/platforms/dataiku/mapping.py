"""Between DSS's wire and jobnode's vocabulary: job states, progress, log lines, dataset references, and a
`JobSpec` as a job definition.

Pure functions, no I/O: the backend fetches, these translate.

States follow the API client's own waiter (`DSSJobWaiter`), which stops on `DONE`, `ABORTED` and `FAILED` and
keeps polling on anything else (a missing state included):

| DSS state     | JobState  |
|---------------|-----------|
| `NOT_STARTED` | queued    |
| `RUNNING`     | running   |
| `DONE`        | succeeded |
| `FAILED`      | failed    |
| `ABORTED`     | cancelled |
| anything else | running   |

Progress counts activities (one recipe run each, DSS's unit of progress): `items_total` is `globalState.total`,
`items_processed` its `done`, `items_failed` its `failed + aborted`. Warnings go into the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, ValidationError

from jobnode.core.models import (
    ArtifactRef,
    ArtifactsInput,
    DelimitedInput,
    ItemsInput,
    Job,
    JobSpec,
    JobState,
    LogEntry,
    LogLevel,
    Progress,
    StrictModel,
)
from jobnode.platforms.dataiku import wire

_STATES = {
    wire.NOT_STARTED: JobState.QUEUED,
    wire.RUNNING: JobState.RUNNING,
    wire.DONE: JobState.SUCCEEDED,
    wire.FAILED: JobState.FAILED,
    wire.ABORTED: JobState.CANCELLED,
}
_LEVEL_WORDS = {
    "TRACE": LogLevel.DEBUG,
    "DEBUG": LogLevel.DEBUG,
    "INFO": LogLevel.INFO,
    "WARN": LogLevel.WARNING,
    "WARNING": LogLevel.WARNING,
    "ERROR": LogLevel.ERROR,
    "FATAL": LogLevel.ERROR,
    "SEVERE": LogLevel.ERROR,
}
#: DSS's spelling of each level, as its log lines write them
LEVEL_NAMES = {LogLevel.DEBUG: "DEBUG", LogLevel.INFO: "INFO", LogLevel.WARNING: "WARN", LogLevel.ERROR: "ERROR"}
LOG_TIME_FORMAT = "%Y/%m/%d-%H:%M:%S.%f"
_LOG_TIME = re.compile(r"\[(\d{4}/\d{2}/\d{2}-\d{2}:\d{2}:\d{2}(?:\.\d+)?)\]\s*")
ACTIVITY_PREFIX = "act."
#: how the API client's waiter spaces its status requests: 0.2 s, then 10% more each time, at most 15 s
WAITER_FIRST, WAITER_FACTOR, WAITER_MAX = 0.2, 1.1, 15.0


def from_ms(ms: int | None) -> datetime | None:
    """A UTC datetime from epoch milliseconds; DSS's `0` ("not yet") and None are None."""
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def waiter_delays() -> Iterator[float]:
    """The pauses between the API client's status requests (`_ExponentialBackoff`), in seconds.

    Example:
        ```python
        list(itertools.islice(waiter_delays(), 3))   # [0.2, 0.22, 0.242]
        ```
    """
    delay = WAITER_FIRST
    while True:
        yield delay
        delay = min(WAITER_MAX, delay * WAITER_FACTOR)


# -- datasets as artifacts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetPartition:
    """A dataset partition, which jobnode sees as an artifact: `PROJECT.dataset` for a dataset that is not
    partitioned, `PROJECT.dataset@partition` for one partition of one that is."""

    project_key: str
    dataset: str
    partition: str = wire.NOT_PARTITIONED

    @property
    def artifact_id(self) -> str:
        base = f"{self.project_key}.{self.dataset}"
        return base if self.partition == wire.NOT_PARTITIONED else f"{base}@{self.partition}"

    @classmethod
    def parse(cls, artifact_id: str, project_key: str, *, field: str = "artifact_id") -> DatasetPartition:
        """A dataset partition from an artifact id (`PROJECT.dataset[@partition]`, or `dataset[@partition]` in
        `project_key`).

        Raises:
            ValueError: the id names no dataset; the message names `field`.
        """
        name, _, partition = artifact_id.partition("@")
        project, _, dataset = name.rpartition(".")
        if not dataset or "/" in name or (artifact_id.count("@") and not partition):
            raise ValueError(
                f"{field}: {artifact_id!r} is not a DSS dataset; name one as PROJECT.dataset or "
                "PROJECT.dataset@partition"
            )
        return cls(project or project_key, dataset, partition or wire.NOT_PARTITIONED)

    @classmethod
    def of(cls, ref: wire.DatasetRef) -> DatasetPartition:
        return cls(ref.project_key, ref.dataset_name, ref.partition or wire.NOT_PARTITIONED)


def _refs(parts: list[DatasetPartition]) -> list[ArtifactRef]:
    return [ArtifactRef(id=p.artifact_id, name=p.dataset) for p in dict.fromkeys(parts)]


# -- jobs -----------------------------------------------------------------------------------------------------------


def job_state(state: str) -> JobState:
    """The jobnode state of a DSS state (see the table in this module's docstring)."""
    return _STATES.get(state, JobState.RUNNING)


def progress(global_state: wire.GlobalState | None) -> Progress:
    """The activity counters as jobnode's `Progress`."""
    if global_state is None:
        return Progress()
    return Progress(
        items_total=global_state.total,
        items_gathered=global_state.total,
        items_processed=global_state.done,
        items_failed=global_state.failed + global_state.aborted,
    )


def _message(state: str, global_state: wire.GlobalState | None, warnings: int) -> str:
    parts = [state or "unknown state"]
    if global_state is not None and global_state.total:
        parts.append(f"{global_state.done} of {global_state.total} activities done")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)


def _reason(status: wire.BaseStatus) -> str | None:
    if status.state not in (wire.FAILED, wire.ABORTED):
        return None
    for activity in status.activities.values():
        if activity.state == status.state and activity.error_message:
            return f"{activity.activity_id}: {activity.error_message}"
    return "the job was aborted" if status.state == wire.ABORTED else "the job failed"


def _lineage(status: wire.BaseStatus) -> tuple[list[ArtifactRef], list[ArtifactRef]]:
    """(inputs, outputs): the partitions the job's finished activities built, and those its activities that ran read
    and it did not build; a status without activities reports the definition's outputs once the job is done."""
    built = [DatasetPartition.of(t) for a in status.activities.values() if a.state == wire.DONE for t in a.targets]
    if not status.activities and status.state == wire.DONE:
        built = [
            DatasetPartition(o.target_dataset_project_key, o.target_dataset, o.target_partition or "NP")
            for o in status.definition.outputs
        ]
    made = set(built)
    ran = [a for a in status.activities.values() if a.state != wire.NOT_STARTED]
    read = [p for a in ran for p in map(DatasetPartition.of, a.sources) if p not in made]
    return _refs(read), _refs(built)


def _main_recipe(status: wire.BaseStatus) -> str | None:
    """The recipe that builds the job's first output."""
    if not status.definition.outputs:
        return None
    target = status.definition.outputs[0]
    for activity in status.activities.values():
        if any(t.dataset_name == target.target_dataset for t in activity.targets):
            return activity.recipe_name
    return None


def to_job(status: wire.JobStatus, *, url: str) -> Job:
    """A job's status in jobnode's vocabulary; the DSS state is `raw_state`, the whole body `raw`.

    Example:
        ```python
        job = to_job(wire.JobStatus.model_validate(body), url="https://dss/projects/P/jobs/build_x/")
        job.state, job.raw_state    # (JobState.RUNNING, "RUNNING")
        ```
    """
    base = status.base_status
    definition = base.definition
    inputs, outputs = _lineage(base)
    started, ended = from_ms(base.start_time), from_ms(base.end_time)
    return Job(
        id=definition.id,
        name=definition.name or definition.id,
        platform="dataiku",
        state=job_state(base.state),
        raw_state=base.state,
        message=_message(base.state, status.global_state, base.warnings_count),
        reason=_reason(base),
        progress=progress(status.global_state),
        step=_main_recipe(base),
        created_at=from_ms(definition.initiation_timestamp),
        started_at=started,
        ended_at=ended,
        updated_at=ended or started or from_ms(definition.initiation_timestamp),
        url=url,
        inputs=inputs,
        outputs=outputs,
        raw=status.to_wire(),
    )


def summary_to_job(summary: wire.JobSummary, *, url: str) -> Job:
    """A job of a listing (which has no activities: no progress, and outputs only once it is done)."""
    definition = summary.definition
    status = wire.JobStatus(
        base_status=wire.BaseStatus(
            definition=definition,
            state=summary.state,
            stable_state=summary.stable_state,
            start_time=summary.start_time,
            end_time=summary.end_time,
            warnings_count=summary.warnings_count,
        )
    )
    job = to_job(status, url=url)
    return job.model_copy(update={"raw": summary.to_wire()})


# -- logs -----------------------------------------------------------------------------------------------------------


def parse_level(word: str) -> LogLevel | None:
    return _LEVEL_WORDS.get(word.strip().upper())


def parse_log(text: str) -> list[LogEntry]:
    """A job's log text as log entries, one per non-empty line.

    A line reads `[2024/01/31-08:00:00.123] [thread] [LEVEL] [logger] act.<activity> - message`, where the thread,
    the logger and the activity may be missing. Its entry has the line number as id, the logger as kind
    (`message` when there is none) and the activity as item. A line without a time (a stack trace's) keeps the time,
    level and activity of the line before it. DSS writes its server's local time; it is read as UTC.

    Example:
        ```python
        [entry] = parse_log("[2024/01/31-08:00:00.123] [w-1] [WARN] [dku.flow] act.compute_x_NP - slow\\n")
        entry.level, entry.item, entry.message    # (LogLevel.WARNING, "compute_x_NP", "slow")
        ```
    """
    entries: list[LogEntry] = []
    when = datetime(1970, 1, 1, tzinfo=UTC)
    level, activity = LogLevel.INFO, None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        kind = "message"
        matched = _LOG_TIME.match(line)
        if matched is None:
            message = line.rstrip()
        else:
            when = datetime.strptime(matched.group(1).ljust(23, "0")[:23], LOG_TIME_FORMAT).replace(tzinfo=UTC)
            rest = line[matched.end() :]
            tokens: list[str] = []
            while rest.startswith("[") and "]" in rest:
                close = rest.index("]")
                tokens.append(rest[1:close])
                rest = rest[close + 1 :].lstrip()
            level, kind = _level_and_logger(tokens)
            activity = None
            if rest.startswith(ACTIVITY_PREFIX):
                name, _, rest = rest[len(ACTIVITY_PREFIX) :].partition(" ")
                activity = name or None
            message = rest.removeprefix("-").strip()
        entries.append(
            LogEntry(id=str(number), time=when, level=level, kind=kind, item=activity, message=message or None)
        )
    return entries


def _level_and_logger(tokens: list[str]) -> tuple[LogLevel, str]:
    for index, token in enumerate(tokens):
        level = parse_level(token)
        if level is not None:
            logger = tokens[index + 1] if index + 1 < len(tokens) else "message"
            return level, logger
    return LogLevel.INFO, "message"


def log_line(when: datetime, level: LogLevel, message: str, *, logger: str, thread: str, activity: str | None) -> str:
    """One line of a DSS job log (what `parse_log` reads back).

    Example:
        ```python
        log_line(now, LogLevel.INFO, "Run activity", logger="dku.flow", thread="FRT-1", activity="compute_x_NP")
        # '[2024/01/31-08:00:00.123] [FRT-1] [INFO] [dku.flow] act.compute_x_NP - Run activity'
        ```
    """
    stamp = when.astimezone(UTC).strftime(LOG_TIME_FORMAT)[:-3]
    where = f" {ACTIVITY_PREFIX}{activity}" if activity else ""
    text = " ".join(message.splitlines()) or "-"
    return f"[{stamp}] [{thread}] [{LEVEL_NAMES[level]}] [{logger}]{where} - {text}"


# -- starting a job -------------------------------------------------------------------------------------------------


class BuildOptions(StrictModel):
    """`JobSpec.params` of a DSS job: how to build (a recipe takes no parameters from a job)."""

    type: wire.BuildType = Field(
        default="NON_RECURSIVE_FORCED_BUILD",
        description="NON_RECURSIVE_FORCED_BUILD (this recipe only), RECURSIVE_BUILD (also what is out of date "
        "upstream), RECURSIVE_FORCED_BUILD (everything upstream), RECURSIVE_MISSING_ONLY_BUILD (upstream datasets "
        "that have no data)",
    )
    partition: str | None = Field(default=None, description="the partition to build; none: NP (not partitioned)")
    outputs: list[str] | None = Field(default=None, description="build only these outputs of the recipe")
    refresh_hive_metastore: bool = False
    auto_update_schema: bool = Field(default=False, description="autoUpdateSchemaBeforeEachRecipeRun")


def build_options(spec: JobSpec) -> BuildOptions:
    """The DSS build options of a `JobSpec`, refusing what DSS cannot do.

    Raises:
        ValueError: a field that cannot map onto a DSS job; the message names it and says what to do.
    """
    refusals = {
        "step_version": "a DSS recipe has no versions; leave step_version out",
        "timeout": "DSS jobs have no time limit; leave timeout out and give the wait a timeout instead",
        "start_at": "DSS starts a job at once; schedule the task instead",
        "stop_at": "DSS jobs have no stop time; give the wait a timeout instead",
        "webhook": "DSS delivers no results to webhooks; read the built dataset instead",
        "parent_id": "DSS jobs have no sub-jobs; leave parent_id out",
    }
    for field, why in refusals.items():
        if getattr(spec, field):
            raise ValueError(f"{field}: {why}")
    try:
        return BuildOptions.model_validate(spec.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(
            f"params.{where}: {first['msg']}; a DSS job's params are its build options "
            f"({', '.join(BuildOptions.model_fields)})"
        ) from None


def recipe_for(step: str, recipes: Mapping[str, str]) -> str:
    """The recipe a step names: its entry in the `recipes` setting, else the step itself."""
    return recipes.get(step, step)


@dataclass(frozen=True)
class RecipeJob:
    """What a `JobSpec` asks of a recipe: the datasets it builds and where the spec's items go."""

    recipe: str
    outputs: list[str]
    inputs: list[str]
    upload_to: str | None


def recipe_job(spec: JobSpec, options: BuildOptions, graph: wire.FlowGraph, project_key: str, recipe: str) -> RecipeJob:
    """Check a `JobSpec` against the project's flow: the recipe exists, the outputs are its own, the input is
    what it reads.

    - `artifacts=[...]`: datasets of the project that the recipe reads (each must be one of its inputs);
    - `items=[...]` / `delimited=[...]`: uploaded into the recipe's one uploaded input dataset (a source dataset);
    - `files=` is refused: a DSS dataset is read from its connection, not from a list of files.

    Raises:
        ValueError: the message names the field at fault and lists what the flow offers.
    """
    if not graph.is_recipe(recipe):
        known = ", ".join(graph.recipes()) or "none"
        raise ValueError(f"step: project {project_key} has no recipe {recipe!r}; its recipes: {known}")
    outputs = graph.recipe_outputs(recipe)
    if options.outputs is not None:
        unknown = [o for o in options.outputs if o not in outputs]
        if unknown or not options.outputs:
            raise ValueError(
                f"params.outputs: recipe {recipe} builds {', '.join(outputs)}; name some of them "
                f"(not {', '.join(unknown) or 'none'})"
            )
        outputs = list(options.outputs)
    inputs = graph.recipe_inputs(recipe)
    job_input = spec.input
    upload_to = None
    if isinstance(job_input, ArtifactsInput):
        for index, artifact in enumerate(job_input.artifacts):
            part = DatasetPartition.parse(artifact, project_key, field=f"input.artifacts.{index}")
            if part.project_key != project_key or part.dataset not in inputs:
                raise ValueError(
                    f"input.artifacts.{index}: recipe {recipe} reads {', '.join(inputs) or 'no dataset'} of project "
                    f"{project_key}, not {artifact}"
                )
    elif isinstance(job_input, ItemsInput | DelimitedInput):
        sources = [i for i in inputs if graph.is_source(i)]
        if len(sources) != 1:
            raise ValueError(
                f"input: recipe {recipe} reads {len(sources)} uploaded datasets ({', '.join(sources) or 'none'}); "
                "items can go only into exactly one: name the datasets it reads with artifacts=[...] instead"
            )
        if isinstance(job_input, DelimitedInput) and (job_input.includes or job_input.excludes):
            raise ValueError("input.includes: items are uploaded from named files; list the files")
        upload_to = sources[0]
    else:
        raise ValueError(
            "input: a DSS job reads the datasets of its recipe; pass artifacts=['PROJECT.dataset', ...], or items= "
            "(or delimited=[files]) to upload into the recipe's uploaded dataset"
        )
    return RecipeJob(recipe=recipe, outputs=outputs, inputs=inputs, upload_to=upload_to)


def definition_for(options: BuildOptions, outputs: list[str]) -> wire.JobDefinition:
    """The job definition that builds `outputs` as `options` say."""
    builder = wire.JobDefinitionBuilder(options.type)
    for output in outputs:
        builder.with_output(output, object_type="DATASET", partition=options.partition or wire.NOT_PARTITIONED)
    return (
        builder.with_refresh_metastore(options.refresh_hive_metastore)
        .with_auto_update_schema_before_each_recipe_run(options.auto_update_schema)
        .definition()
    )


def error_fields(body: Any) -> tuple[str | None, str | None]:
    """(errorType, message) of a DSS error body: `detailedMessage`, else `message`, as the API client shows it."""
    if not isinstance(body, dict):
        return None, None
    error_type = body.get("errorType")
    message = body.get("detailedMessage") or body.get("message")
    return (str(error_type) if error_type else None), (str(message) if message else None)
