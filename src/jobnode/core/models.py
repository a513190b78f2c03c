"""The job vocabulary shared by every platform, the service and the integrations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")


class JobState(enum.StrEnum):
    """The state of a job, whatever the platform; each platform keeps its own value in `Job.raw_state`."""

    CREATED = "created"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT})
#: the states of a job that has not ended, in the order a job goes through them
ACTIVE_STATES = tuple(s for s in JobState if s not in TERMINAL_STATES)


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """The level as a number (10, 20, 30, 40), as Python's `logging` numbers its levels."""
        return _LEVEL_RANK[self]

    @classmethod
    def from_rank(cls, rank: int) -> LogLevel:
        """The level of a number: the highest level at or below it (`from_rank(40)` is `ERROR`)."""
        for level in reversed(cls):
            if rank >= level.rank:
                return level
        return cls.DEBUG


_LEVEL_RANK = {LogLevel.DEBUG: 10, LogLevel.INFO: 20, LogLevel.WARNING: 30, LogLevel.ERROR: 40}


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StrictModel(BaseModel):
    """Models that users send: an unknown field is an error that names it, not something silently dropped; a float
    must be a number (JSON has no NaN or Infinity)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


#: how deeply a job's inline items and parameters may nest (lists and objects within each other)
MAX_NESTING = 100


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a whole number, not true or false")
    return value


def too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether `value`'s lists and objects nest deeper than `limit` (JSON serializers give up somewhere past 250).

    Example:
        ```python
        too_deep([[[1]]], limit=2)  # True
        ```
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth >= limit:
                return True
            children = current.values() if isinstance(current, dict) else current
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _shallow(value: T) -> T:
    if too_deep(value):
        raise PydanticCustomError(
            "too_deep", "nested more than {limit} levels deep; flatten it", {"limit": MAX_NESTING}
        )
    return value


#: a whole number, where JSON's `true` is not one
Count = Annotated[int, BeforeValidator(_not_bool)]


class Progress(Model):
    """Item and batch counters; each platform fills what it has."""

    items_total: int | None = None
    items_gathered: int = 0
    items_processed: int = 0
    items_failed: int = 0
    items_delivered: int = 0
    items_failed_delivery: int = 0
    batches_total: int | None = None
    batches_queued: int = 0
    batches_running: int = 0
    batches_succeeded: int = 0
    batches_failed: int = 0

    @property
    def items_done(self) -> int:
        return self.items_processed + self.items_failed

    @property
    def fraction(self) -> float | None:
        """Fraction done, from 0.0 to 1.0, or None when the total is not known."""
        if not self.items_total:
            return None
        return min(1.0, self.items_done / self.items_total)


class ArtifactRef(Model):
    """A reference to an artifact (a dataset, a file, a job output) that a job consumes or produces."""

    id: str
    name: str | None = None
    job_id: str | None = None
    uri: str | None = None
    media_type: str | None = None


class Artifact(ArtifactRef):
    """An artifact stored by a platform, with its lineage."""

    size_bytes: int | None = None
    records: int | None = None
    created_at: datetime | None = None
    consumers: list[str] = Field(default_factory=list)


class Job(Model):
    """One remote job, in jobnode's vocabulary."""

    id: str
    name: str | None = None
    platform: str = "local"
    state: JobState
    raw_state: str | None = None
    message: str | None = None
    reason: str | None = None
    progress: Progress = Field(default_factory=Progress)
    tags: list[str] = Field(default_factory=list)
    step: str | None = None
    step_version: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    updated_at: datetime | None = None
    url: str | None = None
    inputs: list[ArtifactRef] = Field(default_factory=list)
    outputs: list[ArtifactRef] = Field(default_factory=list)
    parent_id: str | None = None
    raw: dict[str, Any] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal


class LogEntry(Model):
    """One log entry of a job; item-level entries name their item."""

    id: str
    time: datetime
    level: LogLevel = LogLevel.INFO
    kind: str = "message"
    item: str | None = None
    status: str | None = None
    duration_ms: float | None = None
    message: str | None = None


class Page(Model, Generic[T]):
    """One page of a listing; pass `next_cursor` back to get the next one."""

    data: list[T]
    next_cursor: str | None = None
    prev_cursor: str | None = None


class JobError(Model):
    """A recorded error of a job: an item that failed or a batch attempt that raised."""

    time: datetime
    item: str | None = None
    batch: int | None = None
    attempt: int | None = None
    message: str


class JobEvent(Model):
    """A lifecycle event; events stay readable after the job is deleted."""

    id: int
    job_id: str
    time: datetime
    type: str
    state: JobState | None = None
    message: str | None = None
    data: dict[str, Any] | None = None


class DeadLetter(Model):
    """A batch that failed `max_attempts` times: its items and its last error."""

    batch: int
    time: datetime
    attempts: int
    error: str
    items: list[Any] = Field(default_factory=list)


class PlannedBatch(Model):
    index: int
    first_item: int
    size: int


class RejectedItem(Model):
    """An item that could not be read (a bad line of a newline-delimited file, labelled `path:line`)."""

    item: str
    reason: str


class JobPlan(Model):
    """What creating a job would do (a dry run): its items, batches and files; nothing is created.

    Lists stop at 1,000 entries (the `*_total` counts are exact); `items` is left out when there are more.
    A platform that translates the job into a request of its own shows that request in `request`.
    """

    dry_run: bool = True
    platform: str = "local"
    items_total: int | None = None
    batches_total: int | None = None
    batch_size: int | None = None
    items: list[Any] | None = None
    sample: list[Any] = Field(default_factory=list)
    batches: list[PlannedBatch] = Field(default_factory=list)
    files_total: int = 0
    files: list[str] = Field(default_factory=list)
    rejected_total: int = 0
    rejected: list[RejectedItem] = Field(default_factory=list)
    input_artifacts: list[str] = Field(default_factory=list)
    request: dict[str, Any] | None = None


class StepInfo(Model):
    """A processing step a platform runs (`client.steps.list()`): its name, version and parameters."""

    name: str
    version: str
    description: str | None = None
    executor: str | None = None
    module: str | None = None
    params_schema: dict[str, Any] = Field(default_factory=dict, description="the JSON schema of its parameters")


class JobResult(Model):
    """What a terminal job produced."""

    job_id: str
    state: JobState
    progress: Progress
    outputs: list[Artifact] = Field(default_factory=list)
    sample: list[Any] = Field(default_factory=list, description="the first results, for a quick look")


# ----------------------------------------------------------------------------------------------------------------
# What a user asks for


class _Input(StrictModel):
    """An input: `kind` may be left out in Python (each class has its own), but the wire needs it to know the kind,
    so the JSON schema says it is required."""

    model_config = ConfigDict(json_schema_extra=lambda schema: _require_kind(schema))


def _require_kind(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "kind" not in required:
        required.insert(0, "kind")


class ItemsInput(_Input):
    """Items given in the request itself."""

    kind: Literal["items"] = "items"
    items: list[Any] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _not_too_deep(cls, items: list[Any]) -> list[Any]:
        return _shallow(items)


class FilesInput(_Input):
    """Files (each one item) listed through fsspec from paths or prefixes, filtered by glob patterns."""

    kind: Literal["files"] = "files"
    paths: list[str] = Field(min_length=1)
    includes: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(default_factory=list)


class DelimitedInput(_Input):
    """Newline-delimited JSON files: each line is one item."""

    kind: Literal["delimited"] = "delimited"
    paths: list[str] = Field(min_length=1)
    includes: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(default_factory=list)


class ArtifactsInput(_Input):
    """The outputs of earlier jobs, by artifact id or `job_id/output_name`; records lineage."""

    kind: Literal["artifacts"] = "artifacts"
    artifacts: list[str] = Field(min_length=1)


JobInput = Annotated[ItemsInput | FilesInput | DelimitedInput | ArtifactsInput, Field(discriminator="kind")]
#: the values of `input.kind`
INPUT_KINDS = tuple(
    get_args(m.model_fields["kind"].annotation)[0] for m in (ItemsInput, FilesInput, DelimitedInput, ArtifactsInput)
)


class Webhook(StrictModel):
    """Where each batch's results are POSTed, signed with HMAC-SHA256 of `secret`."""

    url: str = Field(pattern=r"^https?://", description="an http:// or https:// URL")
    secret: str | None = Field(default=None, repr=False)
    max_attempts: Count = Field(default=5, ge=1, le=20)


class JobSpec(StrictModel):
    """What to run: a processing step over an input, cut into batches.

    Example:
        ```python
        JobSpec(name="nightly", step="sentiment", input=ItemsInput(items=["good", "bad"]), batch_size=100)
        ```
    """

    name: str = Field(default="job", min_length=1, max_length=200)
    step: str = Field(min_length=1)
    step_version: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    input: JobInput
    batch_size: Count = Field(default=100, ge=1, le=100_000)
    workers: Count = Field(default=1, ge=1, le=256)
    max_attempts: Count = Field(default=3, ge=1, le=100)
    max_item_failures: Count = Field(default=0, ge=0, description="item failures tolerated before the job fails")
    timeout: float | None = Field(default=None, gt=0, description="seconds from the start of the run")
    start_at: datetime | None = None
    stop_at: datetime | None = None
    tags: list[str] = Field(default_factory=list)
    parent_id: str | None = None
    webhook: Webhook | None = None

    @field_validator("params")
    @classmethod
    def _params_not_too_deep(cls, params: dict[str, Any]) -> dict[str, Any]:
        return _shallow(params)

    @field_validator("input", mode="before")
    @classmethod
    def _kind_given(cls, value: Any) -> Any:
        """A missing `kind` is refused naming its choices (pydantic's own error names neither)."""
        if isinstance(value, dict) and "kind" not in value:
            raise PydanticCustomError(
                "union_tag_not_found",
                "say which kind of input this is: input.kind, one of {expected_tags}",
                {"discriminator": "'kind'", "expected_tags": ", ".join(f"'{k}'" for k in INPUT_KINDS)},
            )
        return value

    @model_validator(mode="after")
    def _window(self) -> JobSpec:
        if self.start_at and self.stop_at and self.stop_at <= self.start_at:
            raise ValueError("stop_at must be after start_at (the job's window would be empty)")
        return self


class DeleteBlocker(Model):
    """Why something cannot be deleted."""

    kind: str
    id: str
    reason: str
    by: str | None = None


class DeleteStep(Model):
    action: Literal["cancel", "delete_job", "delete_artifact"]
    id: str


class DeletePlan(Model):
    """An ordered plan of deletions, or the blockers that refuse it."""

    job_id: str | None = None
    targets: list[str] = Field(default_factory=list)
    allowed: bool
    dry_run: bool = False
    steps: list[DeleteStep] = Field(default_factory=list)
    blockers: list[DeleteBlocker] = Field(default_factory=list)
