"""Between PinexQ's wire and jobnode's vocabulary: job states, a job entity as a `Job`, WorkData as artifacts, log
entries, and a `JobSpec` as a rapid setup.

Pure functions, no I/O: the backend fetches, these translate.

| PinexQ `State`                                   | JobState   |
|--------------------------------------------------|------------|
| Undefined, Created, ReadyForProcessing, DataMissing | created |
| Pending                                          | queued     |
| Processing                                       | running    |
| Completed                                        | succeeded  |
| Error, its description starts with `CANCEL_MARK` | cancelled  |
| Error                                            | failed     |
| Canceled                                         | cancelled  |

PinexQ has no cancel action: jobnode stops a job with `SetJobToErrorState` and a message that starts with
`CANCEL_MARK`, so that it reads the job back as cancelled. A job's `ErrorDescription` is its `reason`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from jobnode.core.models import (
    Artifact,
    ArtifactRef,
    Job,
    JobSpec,
    JobState,
    LogEntry,
    LogLevel,
)
from jobnode.platforms.pinexq import wire
from jobnode.platforms.pinexq.siren import Entity

#: how the message of jobnode's `SetJobToErrorState` starts
CANCEL_MARK = "Cancelled by jobnode"
#: the PinexQ states of a job that runs: it cannot be deleted then
RUNNING = frozenset({wire.JobStates.PENDING, wire.JobStates.PROCESSING})
#: the states in which jobnode would wait in vain: the job needs configuring first
CONFIGURING = frozenset(
    {wire.JobStates.UNDEFINED, wire.JobStates.CREATED, wire.JobStates.READY_FOR_PROCESSING, wire.JobStates.DATA_MISSING}
)
_STATES = {
    wire.JobStates.PENDING: JobState.QUEUED,
    wire.JobStates.PROCESSING: JobState.RUNNING,
    wire.JobStates.COMPLETED: JobState.SUCCEEDED,
    wire.JobStates.CANCELED: JobState.CANCELLED,
}
_LEVELS = {
    "trace": LogLevel.DEBUG,
    "debug": LogLevel.DEBUG,
    "information": LogLevel.INFO,
    "info": LogLevel.INFO,
    "warning": LogLevel.WARNING,
    "warn": LogLevel.WARNING,
    "error": LogLevel.ERROR,
    "critical": LogLevel.ERROR,
    "fatal": LogLevel.ERROR,
}
LEVEL_NAMES = {
    LogLevel.DEBUG: "Debug",
    LogLevel.INFO: "Information",
    LogLevel.WARNING: "Warning",
    LogLevel.ERROR: "Error",
}
#: `JobSpec` fields that tune jobnode's own engine: a PinexQ job has no counterpart, the platform decides
ENGINE_ONLY = ("batch_size", "workers", "max_attempts", "max_item_failures")


def resource_id(href: str) -> str:
    """The id jobnode gives a PinexQ resource: the last segment of its URL (a job's GUID, a WorkData's id)."""
    return urlsplit(href).path.rstrip("/").rpartition("/")[2]


def job_state(state: wire.JobStates | None, error_description: str | None = None) -> JobState:
    """The jobnode state of a PinexQ state (see the table in this module's docstring)."""
    if state is wire.JobStates.ERROR:
        cancelled = (error_description or "").startswith(CANCEL_MARK)
        return JobState.CANCELLED if cancelled else JobState.FAILED
    if state is None or state in CONFIGURING:
        return JobState.CREATED
    return _STATES[state]


def properties(entity: Entity) -> wire.JobProperties:
    return wire.JobProperties.model_validate(entity.properties or {})


def workdata_ref(entity: Entity, *, job_id: str | None = None) -> ArtifactRef:
    """An embedded WorkData as an artifact reference: its id, name, media type and download URL."""
    props = wire.WorkDataProperties.model_validate(entity.properties or {})
    download = entity.link("Download")
    return ArtifactRef(
        id=resource_id(entity.self_href),
        name=props.name,
        job_id=job_id,
        uri=download.href if download else None,
        media_type=props.media_type,
    )


def slot_workdata(entity: Entity, slot: str, rel: str) -> list[Entity]:
    """The WorkData embedded in a job's data slots of one kind (`InputDataSlot`/`Selected`,
    `OutputDataSlot`/`Assigned`), in order."""
    return [wd for s in entity.embedded(slot) for wd in s.embedded(rel)]


def to_job(entity: Entity) -> Job:
    """A job entity in jobnode's vocabulary; the raw state is `raw_state`, the whole entity is `raw`.

    Example:
        ```python
        job = to_job(Entity.model_validate(body))
        job.state, job.raw_state, job.reason     # (JobState.FAILED, "Error", "ValueError: x must be positive")
        ```
    """
    props = properties(entity)
    job_id = resource_id(entity.self_href)
    state = job_state(props.state, props.error_description)
    parent = entity.link("ParentJob")
    times = [t for t in (props.created_at, props.scheduled_at, props.started_at, props.completed_at) if t]
    processing = props.processing
    return Job(
        id=job_id,
        name=props.name,
        platform="pinexq",
        state=state,
        raw_state=props.state.value if props.state else None,
        message=props.state.value if props.state else None,
        reason=props.error_description if state in (JobState.FAILED, JobState.CANCELLED) else None,
        tags=list(props.tags or []),
        step=processing.function_name if processing else None,
        step_version=processing.version if processing else None,
        created_at=props.created_at,
        started_at=props.started_at,
        ended_at=props.completed_at if state.is_terminal else None,
        updated_at=max(times) if times else None,
        url=entity.self_href,
        inputs=[workdata_ref(wd) for wd in slot_workdata(entity, "InputDataSlot", "Selected")],
        outputs=[workdata_ref(wd, job_id=job_id) for wd in slot_workdata(entity, "OutputDataSlot", "Assigned")],
        parent_id=resource_id(parent.href) if parent else None,
        raw=entity.to_wire(),
    )


def to_artifact(entity: Entity, consumers: list[str]) -> Artifact:
    """A WorkData entity as an artifact, with the jobs that read it."""
    props = wire.WorkDataProperties.model_validate(entity.properties or {})
    producer = entity.link("ProducedByJob")
    ref = workdata_ref(entity, job_id=resource_id(producer.href) if producer else None)
    return Artifact(
        **ref.model_dump(),
        size_bytes=props.size_in_bytes,
        created_at=props.created_at,
        consumers=consumers,
    )


def to_log_entry(entry: dict[str, Any], number: int) -> LogEntry:
    """A log entry (PinexQ leaves their shape free: `Timestamp`, `Level`, `Message` and, from jobnode's emulator,
    `Id`, `Kind`, `Item`, `Status`, `DurationMs`); `number` names an entry that has no id."""
    level = _LEVELS.get(str(entry.get("Level") or "").lower(), LogLevel.INFO)
    when = entry.get("Timestamp")
    return LogEntry(
        id=str(entry.get("Id") or number),
        time=datetime.fromisoformat(str(when)) if when else datetime.fromtimestamp(0, UTC),
        level=level,
        kind=str(entry.get("Kind") or "message"),
        item=entry.get("Item"),
        status=entry.get("Status"),
        duration_ms=entry.get("DurationMs"),
        message=entry.get("Message"),
    )


def check_spec(spec: JobSpec) -> None:
    """Refuse what a PinexQ job cannot do, naming the field (`ENGINE_ONLY` fields are left to the platform)."""
    if spec.timeout is not None:
        raise ValueError("timeout: a PinexQ job has no time limit; wait with a timeout instead (it stops the job)")
    if spec.start_at is not None or spec.stop_at is not None:
        raise ValueError("start_at: a PinexQ job starts when it is created and has no stop time; leave both out")
    if spec.webhook is not None:
        raise ValueError("webhook: PinexQ delivers no results to webhooks; read the job's output WorkData instead")


def rapid_setup(
    spec: JobSpec, *, step_url: str, input_urls: list[str], parent_url: str | None, tags: list[str]
) -> wire.RapidJobSetupParameters:
    """The `RapidSetupJob` body that creates and starts the job `spec` asks for.

    Example:
        ```python
        rapid_setup(spec, step_url=ps_url, input_urls=[wd_url], parent_url=None, tags=spec.tags).to_wire()
        # {"Name": "nightly", "ProcessingStepUrl": ps_url, "Parameters": "{\\"x\\": 5}", "Start": true, ...}
        ```
    """
    return wire.RapidJobSetupParameters(
        name=spec.name,
        processing_step_url=step_url,
        parent_job_url=parent_url,
        tags=tags or None,
        parameters=json.dumps(spec.params),
        input_data_slots=[wire.InputDataSlotParameter(index=0, work_data_urls=input_urls)] if input_urls else None,
        start=True,
    )
