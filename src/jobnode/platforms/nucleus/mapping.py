"""Between Nucleus's wire and jobnode's vocabulary: job states, progress, upload errors as errors and log entries, and
a `JobSpec` as an async upload. Pure functions, no I/O: the backend fetches, these translate.

States follow the SDK's own waiter (`AsyncJob.sleep_until_complete`): it stops on anything but `Running`, and raises
`JobError` on every status that starts with `Errored`. jobnode keeps waiting through `Queued` (the SDK's waiter
returns at once there, before the job has run: a quirk, not a promise).

| status                          | JobState  | the SDK's waiter        |
|---------------------------------|-----------|-------------------------|
| `Queued`                        | queued    | returns (quirk)         |
| `Running`                       | running   | keeps polling           |
| `Completed`                     | succeeded | returns                 |
| `Errored`, `Errored_*`          | failed    | raises `JobError`       |
| `Cancelled`                     | cancelled | returns                 |
| `Retried`                       | failed    | returns                 |
| anything else                   | failed    | returns                 |

A failed job's `message` is its reason. `Retried` ends the wait as the SDK's does: this job did not complete (Nucleus
ran it again as another job).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from jobnode.core.models import ArtifactsInput, Job, JobError, JobSpec, JobState, LogEntry, LogLevel, Progress
from jobnode.platforms.nucleus import wire

Operation = Literal["append", "annotate"]
#: jobnode's step name of each upload, and the job type Nucleus gives it
OPERATIONS: dict[str, str] = {"append": wire.APPEND_JOB, "annotate": wire.ANNOTATE_JOB}
_STATES = {
    wire.QUEUED: JobState.QUEUED,
    wire.RUNNING: JobState.RUNNING,
    wire.COMPLETED: JobState.SUCCEEDED,
    wire.CANCELLED: JobState.CANCELLED,
}
#: the kind of the log entry an upload error becomes
ERROR_KIND = "ItemFailed"


def job_state(status: str) -> JobState:
    """The jobnode state of a Nucleus status (see the table in this module's docstring)."""
    return _STATES.get(status, JobState.FAILED)


def is_error(status: str) -> bool:
    """Whether the SDK's waiter raises `JobError` on this status."""
    return status.startswith(wire.ERROR_PREFIX)


def parse_time(text: str | None) -> datetime | None:
    """A Nucleus time (`2024-01-01T00:00:00.000Z`, or `2024-01-01 00:00:00`) in UTC; None when it is not one."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def format_time(when: datetime) -> str:
    """A time as Nucleus writes it: ISO 8601 in UTC, milliseconds, `Z` (naive times are UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _count(text: str | None) -> int | None:
    try:
        return int(float(text)) if text is not None else None
    except ValueError:
        return None


def progress(status: wire.JobStatus) -> Progress:
    """`total_steps` and `completed_steps` as items total and processed (Nucleus counts no failures there)."""
    return Progress(items_total=_count(status.total_steps), items_processed=_count(status.completed_steps) or 0)


def step_of(job_type: str) -> str | None:
    """jobnode's step name of a job type (`append`, `annotate`), or None for the jobs jobnode does not start."""
    return next((op for op, kind in OPERATIONS.items() if kind == job_type), None)


def _message(status: wire.JobStatus | None) -> str | None:
    if status is None or status.message is None:
        return None
    return status.message if isinstance(status.message, str) else json.dumps(status.message)


def to_job(info: wire.JobInfo, status: wire.JobStatus | None, *, url: str) -> Job:
    """A Nucleus job in jobnode's vocabulary, from its info (type, creation time, last known status) and, when
    read, its status (status, message, counters). `raw_state` is the status, `raw` the bodies merged; the job's
    type is its name, and `append` or `annotate` its step.

    Example:
        ```python
        job = to_job(info, wire.JobStatus(status="Errored_User", message="1 of 1 annotations failed"), url=url)
        job.state, job.reason   # (JobState.FAILED, "1 of 1 annotations failed")
        ```
    """
    raw_state = status.status if status is not None else info.job_last_known_status
    state = job_state(raw_state)
    message = _message(status)
    raw = info.to_wire()
    if status is not None:
        raw.update(status.to_wire())
    return Job(
        id=info.job_id,
        name=info.job_type,
        platform="nucleus",
        state=state,
        raw_state=raw_state,
        message=message,
        reason=(message or raw_state) if state in (JobState.FAILED, JobState.CANCELLED) else None,
        progress=progress(status) if status is not None else Progress(),
        step=step_of(info.job_type),
        created_at=parse_time(info.job_creation_time),
        url=url,
        raw=raw,
    )


# -- errors ---------------------------------------------------------------------------------------------------------


def parse_upload_error(text: str) -> tuple[str | None, str]:
    """(the reference id it names, the message) of one element of `job/{id}/errors`; text that is not the JSON of
    an upload error is the message itself."""
    try:
        body = json.loads(text)
    except ValueError:
        return None, text
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None, text
    for kind in ("annotation", "item"):
        unit = body.get(kind)
        if isinstance(unit, dict):
            ref = unit.get("referenceId", unit.get("reference_id"))
            return (str(ref) if ref is not None else None), body["error"]
    return None, body["error"]


def to_errors(texts: Sequence[str], at: datetime) -> list[JobError]:
    """Upload errors as jobnode's; Nucleus gives them no time, so each gets `at` (the job's creation time)."""
    errors = []
    for text in texts:
        item, message = parse_upload_error(text)
        errors.append(JobError(time=at, item=item, message=message))
    return errors


def to_log_entries(texts: Sequence[str], at: datetime) -> list[LogEntry]:
    """Upload errors as error log entries (kind `ItemFailed`), numbered in the order Nucleus lists them."""
    entries = []
    for number, text in enumerate(texts):
        item, message = parse_upload_error(text)
        entries.append(
            LogEntry(id=str(number), time=at, level=LogLevel.ERROR, kind=ERROR_KIND, item=item, message=message)
        )
    return entries


# -- a JobSpec as an upload -----------------------------------------------------------------------------------------


class UploadParams(BaseModel):
    """`JobSpec.params` of an append or an annotate."""

    model_config = {"extra": "forbid"}

    dataset_id: str | None = Field(default=None, min_length=1, description="default: the settings' dataset_id")
    update: bool = Field(
        default=False,
        description="overwrite the metadata of items (or annotations) whose reference id (and annotation id) exist",
    )


@dataclass(frozen=True)
class Upload:
    """What a `JobSpec` asks Nucleus to do: append to or annotate a dataset, overwriting or not."""

    operation: Operation
    dataset_id: str
    update: bool

    @property
    def route(self) -> str:
        return f"dataset/{self.dataset_id}/{self.operation}?async=1"

    @property
    def job_type(self) -> str:
        return OPERATIONS[self.operation]


#: JobSpec fields that Nucleus has no counterpart for, with what to do instead (refused when set)
_REFUSED = {
    "step_version": "Nucleus appends and annotates with no versions; leave it out",
    "timeout": "a Nucleus job has no time limit; wait with a timeout instead (it cannot cancel the job, though)",
    "start_at": "Nucleus starts a job at once; submit it later instead",
    "stop_at": "Nucleus cannot stop a job",
    "webhook": "Nucleus calls no webhooks for async jobs; wait for the job instead",
    "parent_id": "Nucleus jobs have no sub-jobs",
}


def upload_for(spec: JobSpec, *, default_dataset: str | None) -> Upload:
    """The upload a `JobSpec` asks for, or a `ValueError` that names the field Nucleus cannot take.

    `step` is `append` or `annotate`; `params` are `UploadParams` (`dataset_id`, `update`). `name`, `tags`,
    `batch_size`, `workers` and `max_attempts` have no Nucleus counterpart and are not sent (Nucleus cuts and
    retries the work itself); the fields in `_REFUSED`, and `max_item_failures` above 0, are refused: Nucleus ends
    a job with item errors `Errored_Partial` whatever the count.

    Example:
        ```python
        upload_for(JobSpec(step="annotate", params={"dataset_id": "ds_1"}, input=ItemsInput(items=[...])),
                   default_dataset=None)
        # Upload(operation="annotate", dataset_id="ds_1", update=False)
        ```
    """
    if spec.step not in OPERATIONS:
        raise ValueError(
            f"step: Nucleus runs no step {spec.step!r}; its jobs are 'append' (items into a dataset) and 'annotate' "
            "(annotations of a dataset's items)"
        )
    for name, advice in _REFUSED.items():
        if getattr(spec, name) is not None:
            raise ValueError(f"{name}: {advice}")
    if spec.max_item_failures:
        raise ValueError(
            "max_item_failures: Nucleus ends a job with any item error Errored_Partial (failed in jobnode); "
            "leave it out and read the job's errors"
        )
    if isinstance(spec.input, ArtifactsInput):
        raise ValueError(
            "input: Nucleus uploads items or annotations, not earlier jobs' outputs; pass items=, delimited= "
            "(newline-delimited JSON files) or files= (images)"
        )
    if spec.input.kind == "files" and spec.step != "append":
        raise ValueError("input: files= are images to append; annotations come as items= or delimited=")
    try:
        params = UploadParams.model_validate(spec.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"params.{where}: {first['msg']} (params take dataset_id and update)") from None
    dataset_id = params.dataset_id or default_dataset
    if not dataset_id:
        raise ValueError(
            "params.dataset_id: name the dataset to upload to (ds_...), here or in the connection's dataset_id"
        )
    return Upload(operation=spec.step, dataset_id=dataset_id, update=params.update)  # type: ignore[arg-type]


def check_unit(operation: Operation, unit: Any, where: str) -> dict[str, Any]:
    """One item (`append`) or annotation (`annotate`) as the SDK would upload it, or a `ValueError` naming the
    field at fault (`where` is its place, such as `input.items[3]`).

    An item needs a `reference_id` and an `image_url`; an annotation a `reference_id` and a `type` Nucleus knows.
    """
    model: type[wire.Wire] = wire.DatasetItem if operation == "append" else wire.Annotation
    if not isinstance(unit, dict):
        noun = "an item" if operation == "append" else "an annotation"
        raise ValueError(f"{where}: {noun} is a JSON object (got {type(unit).__name__})")
    try:
        checked = model.model_validate(unit)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        what = "required; give it" if first["type"] == "missing" else first["msg"]
        raise ValueError(f"{where}.{field}: {what}") from None
    if isinstance(checked, wire.Annotation) and checked.type not in wire.ANNOTATION_TYPES:
        raise ValueError(
            f"{where}.type: {checked.type!r} is not a Nucleus type; use one of {', '.join(wire.ANNOTATION_TYPES)}"
        )
    return unit
