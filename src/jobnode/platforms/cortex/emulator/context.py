"""The Cortex side of the local service: its Batch APIs, its jobs (kept as documents beside the engine's jobs),
and what happens to a job from submission to its end.

How Cortex maps onto the local service:

- **A Batch API is a processing step**: `/<api_name>` (and the operator's `/batch/<api_name>`) runs the latest
  version of the registered step `<api_name>`; a name that is no step is `resources.api_not_deployed`.
- **Submitting** checks the request as the operator does (`submissions`), answers at once with the job
  (`status_enqueuing`), then enqueues in a worker thread (`enqueuing`): the job's items become a local job with the
  submission's `batch_size` and `workers` (at most 256 at once), `max_attempts` = the dead-letter queue's
  `max_receive_count` (1 without a queue: Cortex does not retry then), a stop time of submission + `timeout`, and
  the step's parameters from `config` (the keys the step declares; Cortex's config is free-form, so the others
  are left to the API, as a predictor ignores what it does not read). A service stopped while a job was enqueuing
  fails that job's enqueuing when it starts again, as Cortex's liveness check does.
- **Results**: a job whose config names an S3 `dest_s3_dir` has its results (one JSON value per item, in item
  order) written to `<dest_s3_dir>/<job_id>/results.jsonl` when it ends, before its status says so; that is where
  Cortex's example Batch APIs write theirs. Without one they stay in the service.
- **Stopping** (`DELETE`) a job in progress stops it (`status_stopped`); one that has ended is
  `job.job_is_not_in_progress`, as in Cortex 0.28.
- **Status**: see `status`. `batch_metrics.failed` counts failed attempts (every one, with a dead-letter queue);
  `avg_time_per_batch` is estimated from the newest 1,000 processed items' timings.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from jobnode.core.backend import LogQuery
from jobnode.core.models import JobSpec
from jobnode.platforms.cortex import s3, wire
from jobnode.platforms.cortex.emulator import enqueuing, submissions
from jobnode.platforms.cortex.emulator.errors import (
    API_NOT_DEPLOYED,
    INVALID_CONFIG,
    INVALID_S3_PATH,
    JOB_NOT_FOUND,
    NOT_IN_PROGRESS,
    CortexError,
)
from jobnode.platforms.cortex.emulator.status import ENQUEUING, IN_PROGRESS, CortexJob, Metrics, code
from jobnode.platforms.cortex.paths import DEST_S3_DIR, RESULTS_FILE, is_s3_path, results_prefix
from jobnode.service.emulation import JobService, Unprocessable
from jobnode.service.steps import Step
from jobnode.service.views import JobRecord

log = logging.getLogger("jobnode.cortex")

KIND = "job"
MAX_INT64 = 2**63 - 1
#: the most batches the engine runs at once for one job
MAX_WORKERS = 256
#: errors read to count a job's failed attempts (with a dead-letter queue)
ERRORS_COUNTED = 10_000
#: processed items whose timings estimate the time per batch
TIMED_ITEMS = 1000
#: jobs besides those in progress that the operator's listing shows
RECENT_JOBS = 10
#: deadlines from here on (nanoseconds; the year 2116) do not stop a job: a timeout that long never ends it
LATEST_DEADLINE = 2**62


def _now_ns() -> int:
    return time.time_ns()


def _stop_at(deadline: int | None) -> datetime | None:
    """The local job's stop time; a deadline past what a datetime holds (a timeout of centuries) is none."""
    if deadline is None or deadline >= LATEST_DEADLINE:
        return None
    return datetime.fromtimestamp(deadline / 1e9, UTC)


class Cortex:
    """Cortex's Batch APIs and jobs over a `JobService`."""

    def __init__(self, service: JobService) -> None:
        self.service = service
        self.records = service.documents("cortex")
        self._lock = threading.Lock()
        self._last_id = MAX_INT64
        self._fail_interrupted()

    # -- APIs and ids -----------------------------------------------------------------------------------------

    def api(self, name: str) -> Step:
        """The step a Batch API runs."""
        try:
            return self.service.step(name)
        except Unprocessable:
            raise CortexError(API_NOT_DEPLOYED, f"{name} is not deployed") from None

    @staticmethod
    def api_id(step: Step) -> str:
        return hashlib.sha256(f"{step.name}@{step.version}".encode()).hexdigest()[:16]

    def _new_id(self) -> str:
        """Cortex's job ids: `MaxInt64 - now` in nanoseconds, in hex (newer jobs sort first), never repeated."""
        with self._lock:
            value = min(MAX_INT64 - _now_ns(), self._last_id - 1)
            self._last_id = value
        return f"{value:x}"

    # -- the job documents ------------------------------------------------------------------------------------

    def job(self, api_name: str, job_id: str) -> CortexJob:
        doc = self.records.get(KIND, job_id, scope=api_name)
        if doc is None:
            raise CortexError(
                JOB_NOT_FOUND, f"failed to get job state: unable to find BatchAPI job {job_id} ({api_name} api)"
            )
        return CortexJob.of(doc.id, doc.body)

    def _save(self, job: CortexJob, **changes: Any) -> CortexJob:
        self.records.update(KIND, job.id, **changes)
        return CortexJob.of(job.id, {**job.body(), **changes})

    def _end(self, job: CortexJob, status: str, why: str) -> CortexJob:
        log.warning("cortex job %s (%s api) is %s: %s", job.id, job.api, status, why)
        return self._save(job, status=status, ended=_now_ns())

    def _fail_interrupted(self) -> None:
        """Jobs that were enqueuing when the service stopped: their enqueuing failed (Cortex's liveness check)."""
        for doc in self.records.all(KIND, where={"status": ENQUEUING}):
            self._end(CortexJob.of(doc.id, doc.body), "enqueue_failed", "enqueuing liveness check failed")

    # -- submitting -------------------------------------------------------------------------------------------

    def _params(self, step: Step, config: dict[str, Any] | None) -> dict[str, Any]:
        """The step's parameters from the job's config: the keys the step declares, checked against its model."""
        fields = step.params_model.model_fields
        params = {k: v for k, v in (config or {}).items() if k in fields}
        try:
            step.params_model.model_validate(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CortexError(INVALID_CONFIG, f"config: {where}: {first['msg']}") from None
        dest = (config or {}).get(DEST_S3_DIR)
        if dest is not None and not (isinstance(dest, str) and is_s3_path(dest)):
            raise CortexError(INVALID_S3_PATH, f"config: {DEST_S3_DIR}: {submissions.invalid_s3_path(str(dest))}")
        return params

    def dry_run(self, api_name: str, submission: wire.Submission) -> str:
        """Cortex's dry run: the S3 objects the job would read, one per line, then `validations passed`."""
        step = self.api(api_name)
        files = submissions.validate(submission)
        self._params(step, submission.config)
        return "".join(f"{path}\n" for path in files or []) + wire.VALIDATIONS_PASSED

    def submit(self, api_name: str, submission: wire.Submission) -> CortexJob:
        """Check a submission, record the job and start enqueuing it; the job as Cortex answers it."""
        step = self.api(api_name)
        files = submissions.validate(submission)
        params = self._params(step, submission.config)
        dest = (submission.config or {}).get(DEST_S3_DIR)
        job = CortexJob(
            id=self._new_id(),
            api=api_name,
            api_id=self.api_id(step),
            workers=submission.workers,
            timeout=submission.timeout,
            dead_letter_queue=submission.sqs_dead_letter_queue.to_wire() if submission.sqs_dead_letter_queue else None,
            config=submission.config,
            created=_now_ns(),
            status=ENQUEUING,
            dest_s3_dir=dest if isinstance(dest, str) else None,
        )
        self.records.insert(KIND, job.id, job.body(), scope=api_name)
        threading.Thread(
            target=self._enqueue,
            args=(job, step, submission, files, params),
            name=f"cortex-enqueue-{job.id}",
            daemon=True,
        ).start()
        return job

    def _enqueue(
        self,
        job: CortexJob,
        step: Step,
        submission: wire.Submission,
        files: list[str] | None,
        params: dict[str, Any],
    ) -> None:
        try:
            enqueued = enqueuing.enqueue(submission, files)
        except enqueuing.EnqueueFailed as exc:
            self._end(job, "enqueue_failed", f"failed to enqueue all batches: {exc}")
            return
        except Exception as exc:  # anything that stops Cortex's enqueuer fails the enqueuing, as there
            log.exception("cortex job %s (%s api): enqueuing failed", job.id, job.api)
            self._end(job, "enqueue_failed", f"failed to enqueue all batches: {type(exc).__name__}")
            return
        try:
            self._run(job, step, submission, enqueued, params)
        except Exception:  # a thread must not die silently: the job says it failed
            log.exception("cortex job %s (%s api): the local job could not be created", job.id, job.api)
            self._end(job, "unexpected_error", "the local job could not be created")

    def _run(
        self,
        job: CortexJob,
        step: Step,
        submission: wire.Submission,
        enqueued: enqueuing.Enqueued,
        params: dict[str, Any],
    ) -> None:
        """Hand the enqueued items to the engine as a local job, unless the job was stopped or timed out meanwhile."""
        queue = submission.sqs_dead_letter_queue
        deadline = job.deadline
        spec = JobSpec(
            name=job.id,
            step=step.name,
            step_version=step.version,
            params=params,
            input=enqueued.source,
            batch_size=submission.batch_size(),
            workers=min(job.workers, MAX_WORKERS),
            max_attempts=queue.max_receive_count if queue is not None else 1,
            stop_at=_stop_at(deadline),
            tags=[f"cortex-api:{job.api}"],
        )
        with self._lock:
            current = self.job(job.api, job.id)
            if current.status != ENQUEUING:
                return  # stopped or timed out while it was enqueuing
            if deadline is not None and _now_ns() >= deadline:
                self._end(current, "timed_out", f"terminating job after exceeding the timeout of {job.timeout}s")
                return
            submitted = self.service.submit(spec, items=enqueued.items)
            self._save(
                current, status=None, local_job=submitted.record.id, total_batch_count=submitted.record.batches_total
            )

    # -- reading ----------------------------------------------------------------------------------------------

    def settle(self, job: CortexJob, record: JobRecord | None) -> CortexJob:
        """Carry out what is due before the job's status is shown: its timeout while it enqueues, and the writing
        of its results once its local job has ended."""
        if job.status == ENQUEUING and job.deadline is not None and _now_ns() >= job.deadline:
            with self._lock:
                job = self.job(job.api, job.id)
                if job.status == ENQUEUING:
                    job = self._end(job, "timed_out", f"terminating job after exceeding the timeout of {job.timeout}s")
        if job.dest_s3_dir and not job.exported and record is not None and record.is_terminal:
            with self._lock:
                job = self.job(job.api, job.id)
                if not job.exported:
                    job = self._export(job, record)
        return job

    def _export(self, job: CortexJob, record: JobRecord) -> CortexJob:
        assert job.dest_s3_dir is not None
        if record.outputs:
            target = results_prefix(job.dest_s3_dir, job.id) + RESULTS_FILE
            try:
                s3.write(target, self.service.artifact_lines(record.outputs[0].id))
            except (OSError, ValueError) as exc:
                job = self._end(job, "completed_with_failures", f"cannot write the results to {target}: {exc}")
        return self._save(job, exported=True)

    def metrics(self, job: CortexJob, record: JobRecord | None) -> Metrics:
        if record is None:
            return Metrics()
        failed = record.batches_failed
        if job.dead_letter_queue is not None:
            errors = self.service.errors(record.id, limit=ERRORS_COUNTED)
            failed = sum(1 for e in errors if e.item is None and e.batch is not None)
        average = None
        if record.batches_succeeded:
            query = LogQuery(kind="ItemProcessed", limit=TIMED_ITEMS, order="desc")
            timings = [r.duration_ms for r in self.service.logs(record.id, query).rows if r.duration_ms is not None]
            if timings:
                per_batch = statistics.fmean(timings) * record.items_processed / record.batches_succeeded
                average = round(per_batch / 1000, 6)
        return Metrics(succeeded=record.batches_succeeded, failed=failed, average=average)

    def current(self, api_name: str, job_id: str) -> tuple[CortexJob, JobRecord | None, Metrics]:
        """The job now: its Cortex side, its local job, its metrics."""
        job = self.job(api_name, job_id)
        record = self.service.find(job.local_job) if job.local_job else None
        job = self.settle(job, record)
        return job, record, self.metrics(job, record)

    def recent(self, api_name: str) -> list[tuple[CortexJob, JobRecord | None, Metrics]]:
        """What the operator lists for an API: its jobs in progress, then its most recent others, newest first."""
        jobs = [CortexJob.of(d.id, d.body) for d in reversed(self.records.all(KIND, scope=api_name))]
        local = {r.id: r for r in self.service.get_many([j.local_job for j in jobs if j.local_job])}
        shown = []
        others = 0
        for job in jobs:
            record = local.get(job.local_job) if job.local_job else None
            job = self.settle(job, record)
            if code(job, record) not in IN_PROGRESS:
                if others >= RECENT_JOBS:
                    continue
                others += 1
            shown.append((job, record, self.metrics(job, record)))
        return shown

    # -- stopping ---------------------------------------------------------------------------------------------

    def stop(self, api_name: str, job_id: str) -> None:
        """Stop a job in progress (`status_stopped`)."""
        with self._lock:
            job = self.job(api_name, job_id)
            record = self.service.find(job.local_job) if job.local_job else None
            if code(job, record) not in IN_PROGRESS:
                raise CortexError(
                    NOT_IN_PROGRESS,
                    f"{job_id} ({api_name} api): cannot stop BatchAPI job because it is not in progress",
                )
            if job.status == ENQUEUING:
                self._end(job, "stopped", "request received to stop job")
                return
        if record is not None:
            self.service.cancel(record.id, reason="stopped by request (DELETE ?jobID=)")
