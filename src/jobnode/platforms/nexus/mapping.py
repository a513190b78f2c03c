"""Between Nexus's wire and jobnode's vocabulary: job states, progress, log entries, and a `JobSpec` as a request.

Pure functions, no I/O: the backend fetches, these translate.

States follow the semantics of Datature's own waiter (`jobs.wait_until_done`): a job is done when its
`Delivered` + `FailedDeliver` counters reach the dataset's `itemCount`, or when its overview is `Failed`.
`Reached` alone does not end a job.

| overview | condition                                              | JobState    |
|----------|--------------------------------------------------------|-------------|
| Failed   | `cancelledAt` is set                                   | cancelled   |
| Failed   | its stop time had passed                               | timed_out   |
| Failed   | otherwise                                              | failed      |
| any      | Delivered + FailedDeliver reached the dataset's items  | succeeded   |
| Reached  | items unaccounted for, stop time passed                | timed_out   |
| Reached  | items unaccounted for                                  | running     |
| Waiting  | start time in the future, nothing done yet             | scheduled   |
| Waiting  | some item preprocessed, predicted or delivered         | running     |
| Waiting  | otherwise                                              | queued      |
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, TypeAdapter

from jobnode.core.models import (
    ArtifactRef,
    Job,
    JobSpec,
    JobState,
    LogEntry,
    LogLevel,
    Progress,
    StrictModel,
)
from jobnode.platforms.nexus import wire

DEPLOYMENT_PREFIX = "deploy_"
ARTIFACT_PREFIX = "artifact_"
PROJECT_PREFIX = "proj_"

#: words Nexus may use for a level beyond jobnode's own level names
_LEVEL_SYNONYMS = {"warn": LogLevel.WARNING, "fatal": LogLevel.ERROR, "critical": LogLevel.ERROR}


def to_ms(when: datetime) -> int:
    """Epoch milliseconds (a naive datetime is taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    """A UTC datetime from epoch milliseconds (None stays None)."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def project_id(value: str) -> str:
    """A project id as Nexus wants it: with its `proj_` prefix (added when missing, as the SDK does)."""
    value = value.strip()
    if not value:
        raise ValueError("project_id: empty; pass your Nexus project's id (proj_...)")
    return value if value.startswith(PROJECT_PREFIX) else PROJECT_PREFIX + value


def level_name(level: LogLevel) -> str:
    """The Nexus spelling of a level (`Info`), for `minLevel`."""
    return level.value.title()


def parse_level(value: str) -> LogLevel:
    """A Nexus level (free text such as `Info`, `Error`) as jobnode's; unknown words read as info."""
    word = value.strip().lower()
    try:
        return LogLevel(word)
    except ValueError:
        return _LEVEL_SYNONYMS.get(word, LogLevel.INFO)


# -- jobs -----------------------------------------------------------------------------------------------------------


def items_total(job: wire.BatchJob, item_count: int | None) -> int | None:
    """The number of items the job runs over: the dataset's `itemCount`, else what was gathered so far."""
    if item_count is not None:
        return item_count
    items = job.status.items
    gathered = items.gathered + items.failed_gather
    return gathered or None


def is_done(job: wire.BatchJob, item_count: int | None) -> bool:
    """Datature's waiter condition: every item was delivered or failed to be delivered."""
    total = items_total(job, item_count)
    items = job.status.items
    return total is not None and items.delivered + items.failed_deliver >= total


def job_state(job: wire.BatchJob, item_count: int | None, now_ms: int) -> JobState:
    """The jobnode state of a Nexus job (see the table in this module's docstring)."""
    status, items = job.status, job.status.items
    stop = job.spec.stop_at_time
    if status.overview == wire.FAILED:
        if status.cancelled_at is not None:
            return JobState.CANCELLED
        if stop is not None and status.update_date >= stop:
            return JobState.TIMED_OUT
        return JobState.FAILED
    if is_done(job, item_count):
        return JobState.SUCCEEDED
    if status.overview == wire.REACHED:
        return JobState.TIMED_OUT if stop is not None and stop <= now_ms else JobState.RUNNING
    started = (
        items.preprocessed
        + items.failed_process
        + items.predicted
        + items.failed_predict
        + items.delivered
        + items.failed_deliver
    )
    if started:
        return JobState.RUNNING
    start = job.spec.start_at_time
    if start is not None and start > now_ms and not items.gathered:
        return JobState.SCHEDULED
    return JobState.QUEUED


def progress(job: wire.BatchJob, item_count: int | None) -> Progress:
    """The item counters as jobnode's `Progress`: predicted items are processed; failures of any stage fail."""
    items = job.status.items
    return Progress(
        items_total=items_total(job, item_count),
        items_gathered=items.gathered,
        items_processed=items.predicted,
        items_failed=items.failed_gather + items.failed_process + items.failed_predict,
        items_delivered=items.delivered,
        items_failed_delivery=items.failed_deliver,
    )


def deployment_ref(job: wire.BatchJob) -> str:
    """The deployment (or, for a job that deploys for itself, the artifact) that runs the job."""
    deployment = job.spec.deployment
    if isinstance(deployment, wire.ExistingDeployment):
        return deployment.deployment_id
    return deployment.template.artifact_id or deployment.template.model_id or ""


def to_job(job: wire.BatchJob, item_count: int | None, *, url: str, now_ms: int) -> Job:
    """A Nexus job in jobnode's vocabulary; the raw overview is `raw_state`, the whole body is `raw`.

    Example:
        ```python
        job = to_job(wire.BatchJob.model_validate(body), item_count=50, url=url, now_ms=int(time.time() * 1000))
        job.state, job.raw_state, job.progress.items_delivered   # (JobState.SUCCEEDED, "Reached", 50)
        ```
    """
    state = job_state(job, item_count, now_ms)
    ended: datetime | None = None
    if state.is_terminal:
        ended = from_ms(job.status.cancelled_at if job.status.cancelled_at is not None else job.status.update_date)
    return Job(
        id=job.id,
        name=job.name,
        platform="nexus",
        state=state,
        raw_state=job.status.overview,
        message=job.status.message,
        reason=job.status.reason or None,
        progress=progress(job, item_count),
        step=deployment_ref(job) or None,
        created_at=from_ms(job.create_date),
        updated_at=from_ms(max(job.update_date, job.status.update_date)),
        ended_at=ended,
        url=url,
        inputs=[ArtifactRef(id=job.spec.dataset_id, name="dataset")] if job.spec.dataset_id else [],
        raw=job.to_wire(),
    )


# -- logs -----------------------------------------------------------------------------------------------------------


def to_log_entries(entries: Iterable[wire.LogEntry]) -> list[LogEntry]:
    """Nexus log entries as jobnode's: `createTime` is the time, `timeMs` the duration, `reason` the message. A page
    is validated in one call (a long log is thousands of pages: this is the client's main cost in reading one)."""
    return _LOG_ENTRIES.validate_python(
        [
            {
                "id": e.id,
                "time": from_ms(e.create_time),
                "level": parse_level(e.level),
                "kind": e.kind,
                "item": e.item or None,
                "status": e.status or None,
                "duration_ms": e.time_ms,
                "message": e.reason or None,
            }
            for e in entries
        ]
    )


_LOG_ENTRIES = TypeAdapter(list[LogEntry])


# -- creating a job -------------------------------------------------------------------------------------------------


class EphemeralDeploymentOptions(StrictModel):
    """`JobSpec.params` of a job that runs an artifact on a deployment of its own (`step="artifact_..."`)."""

    name: str | None = Field(default=None, description="the deployment's name (default: the job's name)")
    region: str | None = None
    instance_id: str | None = Field(default=None, description="e.g. instance_t4-standard-1g")
    replicas: int = Field(default=1, ge=1)
    version_tag: str | None = None
    resources: dict[str, int] | None = Field(default=None, description="deprecated by Nexus; use instance_id")
    options: dict[str, Any] | None = Field(default=None, description="evaluationStrategy, evaluationThreshold, ...")


def deployment_for(
    spec: JobSpec, deployments: dict[str, str] | None = None
) -> wire.ExistingDeployment | wire.NewEphemeralDeployment:
    """What runs the job, from `spec.step`:

    - `deploy_...`: an existing deployment; `params` must be empty;
    - `artifact_...`: a new deployment of that artifact, configured by `params` (`EphemeralDeploymentOptions`),
      with `step_version` as its version tag;
    - another name: looked up in `deployments` (step name -> `deploy_...` / `artifact_...`), else taken as
      `deploy_<name>` (`deploy_<name>@<step_version>` with a version): the id under which jobnode's Nexus emulator
      serves its processing step `<name>`.
    """
    ref = spec.step
    version = spec.step_version
    if not ref.startswith((DEPLOYMENT_PREFIX, ARTIFACT_PREFIX)):
        mapped = (deployments or {}).get(ref)
        if mapped is not None:
            ref = mapped
        else:
            ref = DEPLOYMENT_PREFIX + ref + (f"@{version}" if version else "")
            version = None
    if ref.startswith(ARTIFACT_PREFIX):
        options = EphemeralDeploymentOptions.model_validate(spec.params)
        return wire.NewEphemeralDeployment(
            template=wire.DeploymentTemplate(
                name=options.name or spec.name,
                artifact_id=ref,
                replicas=options.replicas,
                region=options.region,
                version_tag=options.version_tag or version,
                instance_id=options.instance_id,
                resources=options.resources,
                options=options.options,
            )
        )
    if version:
        raise ValueError(
            f"step_version: the existing deployment {ref} runs the version it was deployed with; "
            "leave step_version out, or run an artifact (step='artifact_...') with that version"
        )
    if spec.params:
        raise ValueError(
            f"params: a job on the existing deployment {ref} takes no parameters "
            f"(got {', '.join(sorted(spec.params))}); parameters configure the deployment a job creates from an "
            "artifact (step='artifact_...')"
        )
    return wire.ExistingDeployment(deployment_id=ref)


def create_request(
    spec: JobSpec,
    *,
    dataset_id: str,
    webhook_id: str | None,
    deployments: dict[str, str] | None = None,
) -> wire.CreateJobRequest:
    """The body of `POST /projects/{pid}/batch/jobs` for `spec`.

    `timeout` becomes the stop time (start time, or now, plus the timeout) unless `stop_at` is given. Fields that
    tune jobnode's own engine (`batch_size`, `workers`, `max_attempts`, `max_item_failures`) and `tags` have no
    Nexus counterpart and are not sent.

    Example:
        ```python
        spec = JobSpec(name="nightly", step="deploy_3286bd71", input=ArtifactsInput(artifacts=["dataset_652e"]))
        create_request(spec, dataset_id="dataset_652e", webhook_id="webhook_ed98").to_wire()
        # {"name": "nightly", "spec": {"deployment": {"kind": "ExistingDeployment", "deploymentId": ...}, ...}}
        ```
    """
    start = to_ms(spec.start_at) if spec.start_at else None
    stop = to_ms(spec.stop_at) if spec.stop_at else None
    if stop is None and spec.timeout is not None:
        begin = start if start is not None else to_ms(datetime.now(UTC))
        stop = begin + int(spec.timeout * 1000)
    destinations = [wire.WebhookDestination(webhook_id=webhook_id)] if webhook_id else []
    return wire.CreateJobRequest(
        name=spec.name,
        spec=wire.BatchJobSpec(
            deployment=deployment_for(spec, deployments),
            result_delivery=wire.ResultDelivery(destinations=destinations),
            dataset_id=dataset_id,
            start_at_time=start,
            stop_at_time=stop,
        ),
    )
