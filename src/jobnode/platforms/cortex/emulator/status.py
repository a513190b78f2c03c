"""A Cortex job's answers in the documentation's (0.28) shape: the submission's answer, the job's status, an API.

Pure functions of the Cortex side of a job (`CortexJob`, kept in the service's documents) and of the local job
that runs it (`JobRecord`, once enqueued).

| the job                                              | status                          |
|------------------------------------------------------|---------------------------------|
| being enqueued                                       | `status_enqueuing`              |
| enqueued: local job created, queued or running       | `status_running`                |
| local job succeeded                                  | `status_succeeded`              |
| local job failed (a batch dead-lettered, an item failed) | `status_completed_with_failures` |
| stopped (`DELETE`) / past its timeout                | `status_stopped` / `status_timed_out` |
| its enqueuing failed / the service stopped meanwhile | `status_enqueue_failed`         |

Fields besides the seed's: `timeout`, `sqs_dead_letter_queue`, `total_batch_count` and `start_time`, which the
0.28 operator sends too. `created_time` and `start_time` are both the submission's time (Cortex's `StartTime`). A
job submitted without a `config` has `{}` (the seed's shape; Go would write `null`); `timeout` and
`sqs_dead_letter_queue` are `null` when the submission has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobnode.core.models import JobState
from jobnode.platforms.cortex import wire
from jobnode.service.views import JobRecord

ENQUEUING = "enqueuing"
RUNNING = "running"
IN_PROGRESS = frozenset({ENQUEUING, RUNNING})
#: the local engine's states as Cortex statuses
_BY_STATE = {
    JobState.CREATED: RUNNING,
    JobState.SCHEDULED: RUNNING,
    JobState.QUEUED: RUNNING,
    JobState.RUNNING: RUNNING,
    JobState.SUCCEEDED: "succeeded",
    JobState.FAILED: "completed_with_failures",
    JobState.CANCELLED: "stopped",
    JobState.TIMED_OUT: "timed_out",
}


@dataclass(frozen=True)
class CortexJob:
    """The Cortex side of a job (a document of the service): what was submitted, and its own status while it has
    no local job or when it ended without one (`status`: enqueuing, enqueue_failed, stopped, timed_out, ...)."""

    id: str
    api: str
    api_id: str
    workers: int
    timeout: int | None
    dead_letter_queue: dict[str, Any] | None
    config: dict[str, Any] | None
    created: int
    status: str | None = None
    ended: int | None = None
    local_job: str | None = None
    total_batch_count: int = 0
    dest_s3_dir: str | None = None
    exported: bool = False

    @classmethod
    def of(cls, job_id: str, body: dict[str, Any]) -> CortexJob:
        return cls(id=job_id, **body)

    def body(self) -> dict[str, Any]:
        """What the document keeps."""
        fields = dict(self.__dict__)
        del fields["id"]
        return fields

    @property
    def deadline(self) -> int | None:
        """When its timeout ends it (nanoseconds), counted from submission."""
        return self.created + self.timeout * 1_000_000_000 if self.timeout is not None else None


def go_time(ns: int) -> str:
    """A time as Go writes it in JSON (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC.

    Example:
        ```python
        go_time(1646129472123456789)   # "2022-03-01T10:11:12.123456789Z"
        ```
    """
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1_000_000_000)


def code(job: CortexJob, record: JobRecord | None) -> str:
    """The job's status, without the `status_` prefix (see the table in this module's docstring)."""
    if job.status is not None:
        return job.status
    if record is None:
        return "unexpected_error"
    return _BY_STATE[record.state]


def api_spec(api: str, api_id: str) -> dict[str, Any]:
    """The parts of a Batch API's spec a client reads (`cortex get` prints more of a real one)."""
    return {
        "name": api,
        "kind": wire.BATCH_API,
        "id": api_id,
        "networking": {"endpoint": f"/{api}"},
        "predictor": {"type": "python"},
    }


def submitted_json(job: CortexJob) -> dict[str, Any]:
    """The answer of `POST <batch_api_endpoint>`: the seed's fields, then `start_time`."""
    created = go_time(job.created)
    return {
        "job_id": job.id,
        "api_name": job.api,
        "kind": wire.BATCH_API,
        "workers": job.workers,
        "config": job.config or {},
        "api_id": job.api_id,
        "sqs_url": "",
        "timeout": job.timeout,
        "sqs_dead_letter_queue": job.dead_letter_queue,
        "created_time": created,
        "start_time": created,
    }


@dataclass(frozen=True)
class Metrics:
    """The batch metrics of a job: succeeded batches, failed attempts, seconds per successful batch."""

    succeeded: int = 0
    failed: int = 0
    average: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"succeeded": self.succeeded, "failed": self.failed}
        if self.average is not None:
            out["avg_time_per_batch"] = self.average
        return out


def _worker_counts(job: CortexJob, record: JobRecord | None) -> dict[str, int]:
    """Each of the job's workers works on a batch, waits for compute (another batch is queued but no capacity
    is free), or has finished (the queue is empty)."""
    counts = {"pending": 0, "initializing": 0, "running": 0, "succeeded": 0, "failed": 0, "stalled": 0}
    if record is None or record.state is not JobState.RUNNING:
        counts["pending"] = job.workers
        return counts
    busy = min(record.batches_running, job.workers)
    idle = job.workers - busy
    counts["running"] = busy
    counts["pending" if record.batches_queued else "succeeded"] = idle
    return counts


def job_status_json(job: CortexJob, record: JobRecord | None, metrics: Metrics) -> dict[str, Any]:
    """`job_status`: the seed's fields (with `status_`-prefixed statuses), and the 0.28 operator's others."""
    status = code(job, record)
    in_queue = 0
    if status == RUNNING and record is not None:
        in_queue = max(0, record.batches_total - record.batches_succeeded - record.batches_failed)
    ended = job.ended if job.status is not None else (_ns(record.ended_at) if record is not None else None)
    created = go_time(job.created)
    return {
        "job_id": job.id,
        "api_name": job.api,
        "kind": wire.BATCH_API,
        "workers": job.workers,
        "config": job.config or {},
        "api_id": job.api_id,
        "sqs_url": "",
        "status": wire.STATUS_PREFIX + status,
        "batches_in_queue": in_queue,
        "batch_metrics": metrics.to_json(),
        "worker_counts": _worker_counts(job, record) if status == RUNNING else None,
        "created_time": created,
        "start_time": created,
        "end_time": go_time(ended) if ended is not None and status not in IN_PROGRESS else None,
        "timeout": job.timeout,
        "sqs_dead_letter_queue": job.dead_letter_queue,
        "total_batch_count": job.total_batch_count,
    }


def response_json(job: CortexJob, record: JobRecord | None, metrics: Metrics, endpoint: str) -> dict[str, Any]:
    """The answer of `GET <batch_api_endpoint>?jobID=`: `job_status`, `endpoint` (with the job id), `api_spec`."""
    return {
        "job_status": job_status_json(job, record, metrics),
        "endpoint": f"{endpoint}?jobID={job.id}",
        "api_spec": api_spec(job.api, job.api_id),
    }
