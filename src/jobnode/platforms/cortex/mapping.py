"""Between Cortex's wire and jobnode's vocabulary: job states, progress, a `JobSpec` as a submission, and ids.

Pure functions, no I/O: the backend fetches, these translate.

States (either spelling: `status_running` of 0.28 or `running` of 0.42):

| Cortex status             | JobState   | reason                                                     |
|---------------------------|------------|------------------------------------------------------------|
| pending, enqueuing        | queued     |                                                            |
| running                   | running    |                                                            |
| succeeded                 | succeeded  |                                                            |
| completed_with_failures   | failed     | "completed with failures: N failed batch attempts"         |
| enqueue_failed            | failed     | "failed while enqueuing" (Cortex says why in the job's logs) |
| worker_error, worker_oom, unexpected_error | failed | the status's message ("out of memory", ...)         |
| timed_out                 | timed_out  | "timed out: the timeout of N s from submission passed"     |
| stopped                   | cancelled  | "stopped"                                                  |
| unknown, anything else    | running    | (not an end: waiting goes on until the caller's timeout)   |

A jobnode job id is `<api_name>/<job_id>`: Cortex names a job by both (`cortex get <api_name> <job_id>`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from jobnode.core.models import (
    ArtifactRef,
    ArtifactsInput,
    DelimitedInput,
    FilesInput,
    ItemsInput,
    Job,
    JobSpec,
    JobState,
    Progress,
)
from jobnode.platforms.cortex import messages, wire
from jobnode.platforms.cortex.paths import DEST_S3_DIR, is_s3_path, results_prefix

ZERO_TIME = "0001-01-01T00:00:00Z"

_STATES: dict[str, JobState] = {
    "pending": JobState.QUEUED,
    "enqueuing": JobState.QUEUED,
    "running": JobState.RUNNING,
    "succeeded": JobState.SUCCEEDED,
    "completed_with_failures": JobState.FAILED,
    "enqueue_failed": JobState.FAILED,
    "unexpected_error": JobState.FAILED,
    "worker_error": JobState.FAILED,
    "worker_oom": JobState.FAILED,
    "timed_out": JobState.TIMED_OUT,
    "stopped": JobState.CANCELLED,
}
#: what Cortex's CLI shows for each status (`JobCode.Message`)
MESSAGES: dict[str, str] = {
    "unknown": "unknown",
    "pending": "pending",
    "enqueuing": "enqueuing",
    "running": "running",
    "enqueue_failed": "failed while enqueuing",
    "completed_with_failures": "completed with failures",
    "succeeded": "succeeded",
    "unexpected_error": "unexpected error",
    "worker_error": "worker error",
    "worker_oom": "out of memory",
    "timed_out": "timed out",
    "stopped": "stopped",
}


def job_state(status: str) -> JobState:
    """The jobnode state of a Cortex status, in either spelling (see the table in this module's docstring)."""
    return _STATES.get(status.removeprefix(wire.STATUS_PREFIX), JobState.RUNNING)


# -- ids --------------------------------------------------------------------------------------------------------


def job_ref(api_name: str, job_id: str) -> str:
    """jobnode's id of a Cortex job: `<api_name>/<job_id>`."""
    return f"{api_name}/{job_id}"


def split_ref(ref: str, default_api: str | None) -> tuple[str, str]:
    """The API name and Cortex job id of a jobnode job id (`<api_name>/<job_id>`, or a bare `<job_id>` of the
    default API).

    Raises:
        ValueError: the id names no API and there is no default, or a part is empty.
    """
    api, _, job_id = ref.rpartition("/")
    api = api or (default_api or "")
    if not job_id.strip():
        raise ValueError(f"job_id: {ref!r} names no job; a Cortex job id is <api_name>/<job_id>")
    if not api:
        raise ValueError(f"job_id: {ref!r} names no Batch API; give <api_name>/<job_id>, or set the api_name setting")
    return api, job_id


# -- times ------------------------------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """A Go time (RFC 3339, nanoseconds allowed); Go's zero time and nothing are None."""
    if not value or value == ZERO_TIME:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- jobs -------------------------------------------------------------------------------------------------------


def progress(response: wire.BatchJobResponse) -> Progress:
    """Batch counters: Cortex counts batches, not items.

    `batches_total` is `total_batch_count` (known once enqueued); `batches_succeeded` and `batches_failed` are
    the metrics' `succeeded` and `failed` (Cortex's `failed` counts failed *attempts*: with a dead-letter queue a
    batch may fail several times); the batches in the queue are running on the busy workers, the rest queued.
    """
    status = response.job_status
    metrics = response.batch_metrics()
    busy = status.worker_counts.busy() if status.worker_counts is not None else 0
    running = min(status.batches_in_queue, busy)
    return Progress(
        batches_total=status.total_batch_count or None,
        batches_queued=status.batches_in_queue - running,
        batches_running=running,
        batches_succeeded=metrics.succeeded,
        batches_failed=metrics.failed,
    )


def outputs(api_name: str, job: wire.BatchJob) -> list[ArtifactRef]:
    """Where the job's results go: `<dest_s3_dir>/<job_id>/` when its config names a `dest_s3_dir`."""
    dest = (job.config or {}).get(DEST_S3_DIR)
    if not isinstance(dest, str) or not is_s3_path(dest):
        return []
    prefix = results_prefix(dest, job.job_id)
    owner = job_ref(api_name, job.job_id)
    return [ArtifactRef(id=prefix, name="results", job_id=owner, uri=prefix, media_type="application/x-ndjson")]


def _reason(status: wire.BatchJobStatus, code: str, metrics: wire.BatchMetrics) -> str | None:
    if code == "completed_with_failures":
        return (
            f"completed with failures: {metrics.failed} failed batch attempt(s), "
            f"{metrics.succeeded} batch(es) succeeded"
        )
    if code == "enqueue_failed":
        return "failed while enqueuing: Cortex reports why in the job's logs (cortex logs <api_name> <job_id>)"
    if code == "timed_out":
        return f"timed out: the timeout of {status.timeout}s from submission passed" if status.timeout else "timed out"
    if code in ("unexpected_error", "worker_error", "worker_oom", "stopped"):
        return MESSAGES[code]
    return None


def to_job(response: wire.BatchJobResponse, *, api_name: str, url: str) -> Job:
    """A Cortex job status in jobnode's vocabulary; the status string is `raw_state`, the whole answer `raw`.

    Example:
        ```python
        job = to_job(wire.BatchJobResponse.model_validate(body), api_name="image-classifier", url=endpoint)
        job.id, job.state, job.raw_state   # ("image-classifier/69b183ed6bdf3e9b", JobState.RUNNING, "status_running")
        ```
    """
    status = response.job_status
    api = status.api_name or api_name
    code = status.code()
    metrics = response.batch_metrics()
    created = parse_time(status.created_time) or parse_time(status.start_time)
    ended = parse_time(status.end_time)
    return Job(
        id=job_ref(api, status.job_id),
        platform="cortex",
        state=job_state(status.status),
        raw_state=status.status,
        message=MESSAGES.get(code, code),
        reason=_reason(status, code, metrics),
        progress=progress(response),
        step=api,
        created_at=created,
        started_at=parse_time(status.start_time) or created,
        ended_at=ended,
        updated_at=ended,
        url=url,
        outputs=outputs(api, status),
        raw=response.model_dump(mode="json", exclude_none=True),
    )


def submitted(api_name: str, job: wire.BatchJob, *, url: str) -> Job:
    """The job a submission answered with: enqueuing has begun (the answer carries no status)."""
    created = parse_time(job.created_time) or parse_time(job.start_time)
    return Job(
        id=job_ref(api_name, job.job_id),
        platform="cortex",
        state=JobState.QUEUED,
        raw_state=None,
        message="submitted",
        step=api_name,
        created_at=created,
        started_at=created,
        url=url,
        outputs=outputs(api_name, job),
        raw=job.model_dump(mode="json", exclude_none=True),
    )


# -- submitting -------------------------------------------------------------------------------------------------


def _s3_paths(paths: list[str], field: str) -> list[str]:
    for i, path in enumerate(paths):
        if not is_s3_path(path):
            raise ValueError(f"{field}[{i}]: {path!r} is not an S3 path; a Cortex Batch API reads s3://bucket/key")
    return paths


def _timeout(spec: JobSpec, now: datetime) -> int | None:
    """Cortex's `timeout`: whole seconds from submission; `stop_at` becomes one too (the earlier of the two)."""
    limits: list[float] = []
    if spec.timeout is not None:
        limits.append(spec.timeout)
    if spec.stop_at is not None:
        stop = spec.stop_at if spec.stop_at.tzinfo is not None else spec.stop_at.replace(tzinfo=UTC)
        left = (stop - now).total_seconds()
        if left <= 0:
            raise ValueError("stop_at: it has passed; a Cortex job's timeout counts from its submission")
        limits.append(left)
    return max(1, math.ceil(min(limits))) if limits else None


def _refuse_unmapped(spec: JobSpec, dead_letter_queue_arn: str | None) -> None:
    """Fields that have no Cortex counterpart and would change what the job does: refused, naming the field."""
    given = spec.model_fields_set
    if spec.step_version is not None:
        raise ValueError("step_version: a Cortex Batch API has no versions; the deployed one runs")
    if spec.start_at is not None:
        raise ValueError("start_at: a Cortex job starts when it is submitted; submit it then")
    if spec.webhook is not None:
        raise ValueError("webhook: Cortex Batch APIs have no webhooks; a Batch API writes its results itself")
    if spec.parent_id is not None:
        raise ValueError("parent_id: Cortex jobs have no parents")
    if "max_item_failures" in given and spec.max_item_failures:
        raise ValueError(
            "max_item_failures: Cortex counts batches, not items; a job with a failed batch ends "
            "'completed with failures'"
        )
    if "max_attempts" in given and spec.max_attempts > 1 and dead_letter_queue_arn is None:
        raise ValueError(
            "max_attempts: Cortex retries a batch only through a dead-letter queue; set the "
            "dead_letter_queue_arn setting, or leave max_attempts out (a failed batch is not retried)"
        )


def _check_items(items: list[Any], batch_size: int) -> None:
    sizes: list[int] = []
    for i, item in enumerate(items):
        text = messages.compact(item)
        size = messages.json_size(text, escaped=False)
        if size > messages.MESSAGE_LIMIT:
            raise ValueError(
                f"input.items[{i}]: the item takes {size:,} bytes; Cortex takes items of at most "
                f"{messages.MESSAGE_LIMIT:,} bytes (put large data in S3 and pass its path)"
            )
        sizes.append(messages.json_size(text))
    found = messages.oversized(items, batch_size, sizes=sizes)
    if found is not None:
        raise ValueError(
            f"batch_size: batch {found.index} (items {found.first} to {found.stop - 1}) takes {found.size:,} bytes "
            f"as Cortex sends it; a batch must take at most {messages.MESSAGE_LIMIT:,} bytes: use a smaller "
            "batch_size or smaller items"
        )


def submission(
    spec: JobSpec,
    *,
    dest_s3_dir: str | None = None,
    dead_letter_queue_arn: str | None = None,
    now: datetime | None = None,
) -> wire.Submission:
    """The body of `POST <batch_api_endpoint>` for `spec` (the API is `spec.step`).

    - `items` become `item_list`, `files` `file_path_lister`, `delimited` `delimited_files` (`includes` and
      `excludes` go with them); `artifacts` are S3 paths or prefixes of newline-delimited JSON (an earlier job's
      output), read as `delimited_files`. `batch_size` is the input's.
    - `workers`; `params` are the `config` (with `dest_s3_dir` added from the settings when they name none).
    - `timeout` (and `stop_at`) become Cortex's `timeout`, in whole seconds from submission.
    - with a dead-letter queue ARN, `sqs_dead_letter_queue` with `max_receive_count` = `max_attempts`; without
      one Cortex does not retry (an explicit `max_attempts` above 1 is refused).
    - `name`, `tags` and the idempotency key have no Cortex counterpart and are not sent; `step_version`,
      `start_at`, `webhook`, `parent_id` and `max_item_failures` are refused.

    Raises:
        ValueError: the spec cannot be a Cortex job; the message names the field and what to do.

    Example:
        ```python
        spec = JobSpec(step="image-classifier", input=FilesInput(paths=["s3://bucket/images/"], includes=["**.jpg"]))
        submission(spec).to_wire()
        # {"workers": 1, "file_path_lister": {"s3_paths": [...], "includes": ["**.jpg"], ...}}
        ```
    """
    _refuse_unmapped(spec, dead_letter_queue_arn)
    job_input = spec.input
    body: dict[str, Any] = {"workers": spec.workers}
    if isinstance(job_input, ItemsInput):
        _check_items(job_input.items, spec.batch_size)
        body[wire.ITEM_LIST] = wire.ItemList(items=job_input.items, batch_size=spec.batch_size)
    elif isinstance(job_input, FilesInput | DelimitedInput):
        key = wire.FILE_PATH_LISTER if isinstance(job_input, FilesInput) else wire.DELIMITED_FILES
        body[key] = wire.S3Lister(
            s3_paths=_s3_paths(job_input.paths, "input.paths"),
            includes=job_input.includes,
            excludes=job_input.excludes,
            batch_size=spec.batch_size,
        )
    elif isinstance(job_input, ArtifactsInput):
        body[wire.DELIMITED_FILES] = wire.S3Lister(
            s3_paths=_s3_paths(job_input.artifacts, "input.artifacts"), batch_size=spec.batch_size
        )
    timeout = _timeout(spec, now or datetime.now(UTC))
    if timeout is not None:
        body["timeout"] = timeout
    if dead_letter_queue_arn is not None:
        body["sqs_dead_letter_queue"] = wire.DeadLetterQueue(
            arn=dead_letter_queue_arn, max_receive_count=spec.max_attempts
        )
    config = dict(spec.params)
    if dest_s3_dir is not None:
        config.setdefault(DEST_S3_DIR, dest_s3_dir)
    if config:
        body["config"] = config
    result = wire.Submission.model_validate(body)
    size = messages.json_size(messages.compact(result.to_wire()), escaped=False)
    if size > messages.REQUEST_LIMIT:
        raise ValueError(
            f"input.items: the submission takes {size:,} bytes; Cortex takes at most {messages.REQUEST_LIMIT:,} "
            "(10 MiB): put the items in S3 and submit them as files or delimited files"
        )
    return result
