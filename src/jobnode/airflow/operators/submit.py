"""`JobnodeSubmitJobOperator`: submit a job (or reattach to the one an earlier try started) and wait for it, deferred or
on the worker; the record the task state store keeps across tries."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from airflow.sdk import ResumableJobMixin
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from jobnode.airflow.links import XCOM_JOB_ID, XCOM_JOB_IDS, XCOM_JOB_URL, JobnodeJobLink
from jobnode.airflow.operators._base import DEFAULT_CONN_ID, JobnodeTask, as_seconds, default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context

    from jobnode.airflow.triggers import JobEventPayload
    from jobnode.client import Client
    from jobnode.core.models import Job, JobSpec

#: the task state store key a submit task keeps its job under, across tries
STATE_KEY = "jobnode.job"
#: which limit a deferred wait runs until: the operator's `timeout` or the task's `execution_timeout`
Deadline = Literal["timeout", "execution_timeout"]


class JobnodeSubmitJobOperator(ResumableJobMixin, JobnodeTask):
    """Creates a job from templated fields and, by default, waits until it has ended.

    The job's id and URL go to XCom (`job_id`, `job_url`) as soon as it exists; the task returns a summary (`job_id`,
    `state`, `url`, `message`, `inputs`, `outputs`) whose keys are XComs of their own too (`multiple_outputs`), so
    a downstream job reads this one's outputs with `artifacts=submit.output["outputs"]`.

    Waiting is deferred to the triggerer (no worker slot is held) when `deferrable`, which defaults to
    `[operators] default_deferrable`; otherwise the worker polls every `check_interval` seconds. Either way, progress
    lines reach the task log, a failed job fails the task with its reason and last errors, and `timeout` (or the
    task's `execution_timeout`, whichever comes first) cancels the job and fails the task. Killing the task while it
    waits on the worker cancels the job; marking the deferred task failed or clearing it does too.

    Retries reattach (`reattach=True`, Airflow's `ResumableJobMixin` with its task state store): a retried or
    restarted task finds the job it started and waits for it instead of starting another; a job that already
    succeeded is not run again; a job that failed, was cancelled or timed out is replaced by a new one (with
    `retry_from_failure`, by a job over its failed items only, where the platform can resubmit); a task cleared after
    its rendered request changed starts a new job. Each job is created under an idempotency key derived from the
    DAG, run, task, map index, request and a generation number, so a worker that dies between creating the job and
    recording it loses nothing. The outputs of a job whose task declares outlet assets are recorded on the asset
    events (`extra`), and the cleanup operator keeps them.

    Example:
        ```python
        score = JobnodeSubmitJobOperator(
            task_id="score",
            step="sentiment",
            files=["s3://reviews/{{ ds }}/"],
            includes=["**/*.txt"],
            step_params={"top_k": 5},
            batch_size=200,
            timeout=3600,
            retries=2,
            retry_from_failure=True,
        )
        ```

    Args:
        step: the processing step to run (templated).
        name: the job's name (templated); defaults to `<dag_id>.<task_id>`.
        step_version: a version of the step (templated); the latest by default.
        step_params: the step's parameters (templated).
        items: inline items (templated); exactly one of `items`, `files`, `delimited` and `artifacts` is the input.
        files: files or prefixes, each file one item (templated).
        delimited: newline-delimited JSON files, each line one item (templated).
        artifacts: earlier jobs' outputs, by artifact id or `job_id/output_name` (templated).
        includes: glob patterns a file must match (templated).
        excludes: glob patterns that drop a file (templated).
        batch_size: items per batch.
        workers: batches that run at once.
        max_attempts: attempts of a batch before it is dead-lettered.
        max_item_failures: item failures tolerated before the job fails.
        job_timeout: seconds the job may run on the platform (the platform enforces it).
        tags: the job's tags (templated).
        job_options: any other `JobSpec` field (`start_at`, `stop_at`, `webhook`, `parent_id`; templated).
        jobnode_conn_id: the jobnode connection (templated: a DAG param can choose the platform).
        wait_for_completion: wait until the job has ended; when False the task ends once the job is created.
        deferrable: wait in the triggerer.
        check_interval: seconds between two status requests when waiting on the worker.
        timeout: seconds to wait before cancelling the job and failing the task; None waits as long as it runs.
        reattach: find the job of an earlier try (see above); False starts a new job on every try.
        retry_from_failure: a retry after a failed job runs only its failed items again (the platform's
            resubmission; where it has none, the whole request runs again). The task's outputs are then those of
            both jobs.
        progress_every: seconds between two progress lines in the task log.
    """

    template_fields: Sequence[str] = (
        "name",
        "step",
        "step_version",
        "step_params",
        "items",
        "files",
        "delimited",
        "artifacts",
        "includes",
        "excludes",
        "tags",
        "job_options",
        "jobnode_conn_id",
    )
    template_fields_renderers = {"step_params": "json", "items": "json", "job_options": "json"}
    operator_extra_links = (JobnodeJobLink(),)
    ui_color = "#e8f0ff"
    #: where the task state store keeps the task's job (see `ResumableJobMixin`)
    external_id_key = STATE_KEY

    def __init__(
        self,
        *,
        step: str,
        name: str | None = None,
        step_version: str | None = None,
        step_params: dict[str, Any] | None = None,
        items: Sequence[Any] | None = None,
        files: Sequence[str] | None = None,
        delimited: Sequence[str] | None = None,
        artifacts: Sequence[str] | None = None,
        includes: Sequence[str] = (),
        excludes: Sequence[str] = (),
        batch_size: int | None = None,
        workers: int | None = None,
        max_attempts: int | None = None,
        max_item_failures: int | None = None,
        job_timeout: float | timedelta | None = None,
        tags: Sequence[str] = (),
        job_options: dict[str, Any] | None = None,
        jobnode_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        check_interval: float = 10.0,
        timeout: float | timedelta | None = None,
        reattach: bool = True,
        retry_from_failure: bool = False,
        progress_every: float = 60.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(durable=reattach, jobnode_conn_id=jobnode_conn_id, **kwargs)
        self.step = step
        self.name = name
        self.step_version = step_version
        self.step_params = step_params
        self.items = items
        self.files = files
        self.delimited = delimited
        self.artifacts = artifacts
        self.includes = includes
        self.excludes = excludes
        self.batch_size = batch_size
        self.workers = workers
        self.max_attempts = max_attempts
        self.max_item_failures = max_item_failures
        self.job_timeout = as_seconds(job_timeout, "job_timeout")
        self.tags = tags
        self.job_options = job_options
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.check_interval = check_interval
        self.timeout = as_seconds(timeout, "timeout")
        self.retry_from_failure = retry_from_failure
        self.progress_every = progress_every
        self._spec: JobSpec | None = None
        self._earlier: tuple[JobRecord, Job | None] | None = None
        self._job: Job | None = None
        self._summary: dict[str, Any] | None = None
        self._waiting_on: str | None = None

    @property
    def reattach(self) -> bool:
        """Whether a retry finds the job of an earlier try (`ResumableJobMixin`'s `durable`)."""
        return bool(self.durable)

    # -- the request -------------------------------------------------------------------------------------------

    def build_spec(self, context: Context) -> JobSpec:
        """The `JobSpec` of the rendered fields; a field a user got wrong fails the task without retries."""
        from pydantic import ValidationError

        from jobnode.client import build_spec

        fields: dict[str, Any] = {
            "name": self.name or f"{context['dag'].dag_id}.{self.task_id}",
            "step": self.step,
            "step_version": self.step_version,
            "params": self.step_params,
            "items": self.items,
            "files": self.files,
            "delimited": self.delimited,
            "artifacts": self.artifacts,
            "includes": list(self.includes),
            "excludes": list(self.excludes),
            "batch_size": self.batch_size,
            "workers": self.workers,
            "max_attempts": self.max_attempts,
            "max_item_failures": self.max_item_failures,
            "timeout": self.job_timeout,
            "tags": list(self.tags),
            **(self.job_options or {}),
        }
        try:
            return build_spec(**{k: v for k, v in fields.items() if v is not None})
        except (ValidationError, ValueError, TypeError) as exc:
            raise AirflowFailException(f"task {self.task_id}: the job request is not valid: {exc}") from exc

    def idempotency_base(self, context: Context) -> str:
        """What this task instance's idempotency keys start with (with the try number when `reattach` is off)."""
        ti = context["ti"]
        extra = () if self.reattach else (f"try-{ti.try_number}",)
        map_index = ti.map_index if ti.map_index is not None else -1
        return task_key(ti.dag_id, ti.run_id, ti.task_id, map_index, *extra)

    def spec(self) -> JobSpec:
        assert self._spec is not None, "execute() builds the request first"
        return self._spec

    # -- execution ---------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        # a try starts from what the task state store and the platform say, never from an earlier try in memory
        self._earlier, self._job, self._summary = None, None, None
        self._spec = self.build_spec(context)
        return self.execute_resumable(context)

    def execute_complete(
        self, context: Context, event: JobEventPayload, deadline: Deadline = "timeout"
    ) -> dict[str, Any]:
        """Resumes the task when the trigger has fired: the job ended, the wait timed out, or it could not go on."""
        from airflow.sdk.exceptions import AirflowTaskTimeout

        from jobnode.airflow._results import raise_for_event
        from jobnode.core.models import Job

        if event["job"] is not None:
            self._job = Job.model_validate(event["job"])
        if event["status"] == "timeout" and deadline == "execution_timeout":
            raise AirflowTaskTimeout(event["message"])
        raise_for_event(event)
        assert self._job is not None
        with self._client() as client:
            return self._finish(context, client, self._job)

    def on_kill(self) -> None:
        """Cancel the job this task is waiting for on the worker (the task was killed or timed out)."""
        job_id = self._waiting_on
        if job_id is None:
            return
        from jobnode.core.errors import UnsupportedOperation

        with self._client() as client:
            try:
                job = client.jobs.cancel(job_id)
            except UnsupportedOperation as exc:
                self.log.warning("job %s was not cancelled and goes on: %s", job_id, exc)
                return
            finally:
                self._waiting_on = None
        self.log.info("cancelled job %s (it is %s)", job_id, job.state.value)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The job's inputs and outputs as OpenLineage datasets, and its id as a run facet; also when it failed."""
        from jobnode.airflow.openlineage import job_lineage, no_lineage

        if self._job is None:
            return no_lineage()
        files = [*(self.files or ()), *(self.delimited or ())]
        return job_lineage(self._job, files=files, artifacts=self.artifacts or ())

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_complete(task_instance)

    # -- ResumableJobMixin: what Airflow's resumable execution asks of the platform -----------------------------

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """The state of the job an earlier try recorded (`request-changed` when this try's request differs, so
        that it is neither reattached nor counted as done)."""
        from jobnode.client import request_digest
        from jobnode.core.errors import NotFound

        record = JobRecord.parse(external_id)
        if record is None:
            return "unknown"
        if record.request != request_digest(self.spec()):
            self.log.info("the request changed since job %s was submitted: it is a new job", record.job_id)
            self._earlier = (record.changed(), None)
            return "request-changed"
        with self._client() as client:
            try:
                job = client.jobs.get(record.job_id)
            except NotFound:
                self._earlier = (record, None)
                return "deleted"
        self._earlier = (record, job)
        return job.state.value

    def is_job_active(self, status: str) -> bool:
        from jobnode.core.models import ACTIVE_STATES

        return status in ACTIVE_STATES

    def is_job_succeeded(self, status: str) -> bool:
        from jobnode.core.models import JobState

        return status == JobState.SUCCEEDED

    def submit_job(self, context: Context) -> dict[str, Any]:
        """Create the job, or find it by its idempotency key; returns the record the task state store keeps."""
        from jobnode.airflow._results import not_retryable

        record, previous = self._earlier or (None, None)
        generation = record.generation + 1 if record is not None else 0
        with self._client() as client:
            try:
                attached = client.jobs.submit_or_reattach(
                    self.spec(),
                    key=self.idempotency_base(context),
                    generation=generation,
                    after=previous,
                    retry_from_failure=self.retry_from_failure,
                )
            except Exception as exc:
                not_retryable(exc, f"task {self.task_id}: cannot create the job")
                raise
        job = self._job = attached.job
        if attached.how == "resubmitted":
            self.log.info("job %s runs the failed items of the job before again (%s)", job.id, job.url)
        else:
            self.log.info("job %s: %s (%s)", job.id, job.state.value, job.url)
        earlier = record.jobs if record is not None else ()
        return JobRecord(
            job_id=job.id,
            generation=attached.generation,
            request=attached.request,
            jobs=tuple(dict.fromkeys([*earlier, *attached.jobs])),
        ).dump()

    # Airflow's mixin declares None, yet returns this method's value as the task's result when it reattaches
    def poll_until_complete(self, external_id: Any, context: Context) -> dict[str, Any]:  # type: ignore[override]
        """Wait for the recorded job (deferred, or on the worker) and return the task's summary."""
        from jobnode.airflow._results import ProgressLog, job_summary

        record = JobRecord.parse(external_id)
        assert record is not None, "the job was recorded by submit_job"
        known = self._job if self._job is not None and self._job.id == record.job_id else None
        with self._client() as client:
            # the newest state before waiting: a job that has already ended (it failed at once, say) is handled
            # here, without a trip to the triggerer
            job = known if known is not None and not self.wait_for_completion else client.jobs.get(record.job_id)
            self._job = job
            self._push_ids(context, job, record)
            if not self.wait_for_completion:
                self._summary = job_summary([job])
                return self._summary
            if not job.is_terminal:
                if self.deferrable:
                    self._defer(context, job)
                progress = ProgressLog(self.log, self.progress_every)
                progress(job)
                job = self._wait(client, job, progress)
            return self._finish(context, client, job)

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        """The summary of the job (an earlier try's job that succeeded, or the one just waited for)."""
        record = JobRecord.parse(external_id)
        if self._summary is not None and record is not None and self._summary["job_id"] == record.job_id:
            return self._summary
        self.log.info("job %s already succeeded; it is not run again", record and record.job_id)
        return self.poll_until_complete(external_id, context)

    # -- steps -------------------------------------------------------------------------------------------------

    def _push_ids(self, context: Context, job: Job, record: JobRecord) -> None:
        ti = context["ti"]
        ti.xcom_push(key=XCOM_JOB_ID, value=job.id)
        ti.xcom_push(key=XCOM_JOB_URL, value=job.url)
        ti.xcom_push(key=XCOM_JOB_IDS, value=list(record.jobs))

    def _defer(self, context: Context, job: Job) -> NoReturn:
        """Wait in the triggerer, until `timeout` or the task's `execution_timeout`, whichever comes first: Airflow
        enforces neither on a deferred task, so the trigger does (and cancels the job)."""
        from jobnode.airflow.triggers import JobnodeJobTrigger

        deadlines: dict[Deadline, float] = {}
        if self.timeout is not None:
            deadlines["timeout"] = time.time() + self.timeout
        started = getattr(context["ti"], "start_date", None)
        if self.execution_timeout is not None and started is not None:
            deadlines["execution_timeout"] = started.timestamp() + self.execution_timeout.total_seconds()
        first = min(deadlines, key=deadlines.__getitem__) if deadlines else "timeout"
        self.log.info("job %s: %s; waiting in the triggerer", job.id, job.state.value)
        self.defer(
            trigger=JobnodeJobTrigger(
                job_id=job.id,
                jobnode_conn_id=self.jobnode_conn_id,
                timeout_at=deadlines.get(first),
                progress_every=self.progress_every,
            ),
            method_name="execute_complete",
            kwargs={"deadline": first},
        )

    def _wait(self, client: Client, job: Job, progress: Callable[[Job], None]) -> Job:
        """Wait on the worker. Until the job has ended, `on_kill` knows it: Airflow's execution timeout and a
        killed task interrupt this wait and then call `on_kill`, which cancels the job."""
        from jobnode.client import CancelledOnTimeout

        self._waiting_on = job.id
        try:
            job = client.jobs.wait_or_cancel(
                job.id,
                timeout=self.timeout,
                poll_interval=self.check_interval,
                on_progress=progress,
                raise_on_failure=False,
            )
        except CancelledOnTimeout as exc:
            self._waiting_on = None
            raise AirflowException(str(exc)) from exc
        self._waiting_on = None
        return job

    def _finish(self, context: Context, client: Client, job: Job) -> dict[str, Any]:
        """The summary of a job that has ended; a job that did not succeed fails the task with its last errors."""
        from jobnode.airflow._results import job_summary, raise_if_failed

        self._job = job  # what OpenLineage reports, also when the job failed
        raise_if_failed(client, job)
        chain = client.jobs.resubmission_chain(job)
        summary = job_summary(chain)
        self.log.info(
            "job %s %s: %s; outputs: %s",
            job.id,
            job.state.value,
            summary["message"],
            ", ".join(summary["outputs"]) or "none",
        )
        self._record_outlets(context, summary)
        self._summary = summary
        return summary

    def _record_outlets(self, context: Context, summary: dict[str, Any]) -> None:
        """Each outlet asset's event carries the job and its outputs (what downstream DAGs read)."""
        from airflow.sdk import Asset

        for outlet in self.outlets:
            if isinstance(outlet, Asset):
                context["outlet_events"][outlet].extra.update(
                    {
                        "jobnode_job_id": summary["job_id"],
                        "jobnode_url": summary["url"],
                        "jobnode_outputs": summary["outputs"],
                    }
                )


@dataclass(frozen=True)
class JobRecord:
    """What the task state store keeps for a submit task across its tries (under `STATE_KEY`).

    Attributes:
        job_id: the current job.
        generation: the generation of its idempotency key.
        request: the digest of the request it was created for (empty once a changed request made it stale).
        jobs: every job the task started, oldest first (the cleanup deletes them all).
    """

    job_id: str
    generation: int
    request: str
    jobs: tuple[str, ...]

    @classmethod
    def parse(cls, value: Any) -> JobRecord | None:
        """The record in a task state store's value, or None when it holds none (or an unreadable one)."""
        if not isinstance(value, dict) or not isinstance(value.get("job_id"), str):
            return None
        return cls(
            job_id=value["job_id"],
            generation=int(value.get("generation", 0)),
            request=str(value.get("request", "")),
            jobs=tuple(str(j) for j in value.get("jobs", ())),
        )

    def changed(self) -> JobRecord:
        """The record once the request has changed: its jobs stay listed, its generations no longer count."""
        return JobRecord(job_id=self.job_id, generation=-1, request="", jobs=self.jobs)

    def dump(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "generation": self.generation, "request": self.request, "jobs": [*self.jobs]}


def task_key(dag_id: str, run_id: str, task_id: str, map_index: int, *extra: str) -> str:
    """The key of a task instance's submits: the same for every try of it, and short enough for any platform's
    idempotency header (DAG and run ids may be long).

    Example:
        ```python
        task_key("nightly", "manual__2026-01-01", "score", -1)   # 'airflow-3f0c…'
        ```
    """
    raw = "\x1f".join([dag_id, run_id, task_id, str(map_index), *extra])
    return "airflow-" + hashlib.sha256(raw.encode()).hexdigest()[:24]
