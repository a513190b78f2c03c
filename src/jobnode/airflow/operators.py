"""Operators: submit a job (and wait for it, deferred or on the worker), fetch its logs, clean up, cancel.

The operators orchestrate; the I/O is the client's (through `JobnodeHook`). This module imports only Airflow's
task SDK at import time, so that DAG files that use it parse fast; the client is loaded when a task runs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TriggerRule, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from jobnode.airflow.links import XCOM_JOB_ID, XCOM_JOB_IDS, XCOM_JOB_URL, JobnodeJobLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from jobnode.airflow.triggers import JobEventPayload
    from jobnode.client import Client
    from jobnode.core.backend import Capability
    from jobnode.core.models import Job, JobSpec, LogEntry

DEFAULT_CONN_ID = "jobnode_default"


def default_deferrable() -> bool:
    """`[operators] default_deferrable` of the Airflow configuration."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def _seconds(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta (got {value!r})")
    return seconds


class _JobnodeTask(BaseOperator):
    """What every jobnode operator has: a connection, and a client per step of the task."""

    def __init__(self, *, jobnode_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobnode_conn_id = jobnode_conn_id

    @contextmanager
    def _client(self) -> Iterator[Client]:
        """A client for the duration of one step of the task, closed afterwards (even when the task defers)."""
        from jobnode.airflow.hooks import JobnodeHook

        hook = JobnodeHook(self.jobnode_conn_id)
        try:
            yield hook.client
        finally:
            hook.close()


class JobnodeSubmitJobOperator(_JobnodeTask):
    """Creates a job from templated fields and, by default, waits until it has ended.

    The job's id and URL go to XCom (`job_id`, `job_url`) as soon as it exists; the task returns a summary (`job_id`,
    `state`, `url`, `message`, `inputs`, `outputs`) whose keys are XComs of their own too (`multiple_outputs`), so
    a downstream job reads this one's outputs with `artifacts=submit.output["outputs"]`.

    Waiting is deferred to the triggerer (no worker slot is held) when `deferrable`, which defaults to
    `[operators] default_deferrable`; otherwise the worker polls every `check_interval` seconds. Either way, progress
    lines reach the task log, a failed job fails the task with its reason and last errors, and `timeout` cancels the
    job and fails the task. Killing the task while it waits on the worker cancels the job; marking the deferred task
    failed or clearing it does too.

    Retries reattach (`reattach=True`): a retried or restarted task finds the job it started (the task state store,
    and idempotency keys derived from the DAG, run, task and map index) and waits for it instead of starting another;
    a job that already succeeded is not run again; a job that failed, was cancelled or timed out is replaced by a new
    one. The outputs of a job whose task declares outlet assets are recorded on the asset events (`extra`), and the
    cleanup operator keeps them.

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
        progress_every: float = 60.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(jobnode_conn_id=jobnode_conn_id, **kwargs)
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
        self.job_timeout = _seconds(job_timeout, "job_timeout")
        self.tags = tags
        self.job_options = job_options
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.check_interval = check_interval
        self.timeout = _seconds(timeout, "timeout")
        self.reattach = reattach
        self.progress_every = progress_every
        self._job: Job | None = None
        self._waiting_on: str | None = None

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
        """The stem of this task instance's idempotency keys (with the try number when `reattach` is off)."""
        from jobnode.airflow._attach import base_key

        ti = context["ti"]
        extra = () if self.reattach else (f"try-{ti.try_number}",)
        map_index = ti.map_index if ti.map_index is not None else -1
        return base_key(ti.dag_id, ti.run_id, ti.task_id, map_index, *extra)

    # -- execution ---------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        from jobnode.airflow._attach import attach
        from jobnode.airflow._results import ProgressLog, job_summary, not_retryable, raise_if_failed

        spec = self.build_spec(context)
        store = context.get("task_state_store") if self.reattach else None
        with self._client() as client:
            try:
                attached = attach(client, spec, base=self.idempotency_base(context), store=store)
            except Exception as exc:
                not_retryable(exc, f"task {self.task_id}: cannot create the job")
                raise
            job = attached.job
            self._push_ids(context, job, attached.jobs)
            if attached.how == "reattached":
                self.log.info("reattached to job %s of an earlier try (%s)", job.id, job.state.value)
            elif attached.how == "succeeded":
                self.log.info("job %s of an earlier try already succeeded; not running it again", job.id)
                return self._finish(context, job)
            else:
                self.log.info("job %s: %s (%s)", job.id, job.state.value, job.url)
            if not self.wait_for_completion:
                return job_summary(job)
            # a job that has already ended (it failed at once, say) is handled here, without a trip to the triggerer
            job = client.jobs.get(job.id)
            if job.is_terminal:
                return self._finish(context, raise_if_failed(client, job))
            if self.deferrable:
                self._defer(job)
            progress = ProgressLog(self.log, self.progress_every)
            progress(job)
            self._waiting_on = job.id
            try:
                job = self._poll(client, job.id, progress)
            finally:
                self._waiting_on = None
            return self._finish(context, raise_if_failed(client, job))

    def execute_complete(self, context: Context, event: JobEventPayload) -> Any:
        """Resumes the task when the trigger has fired: the job ended, the wait timed out, or it could not go on."""
        from jobnode.airflow._results import raise_for_event
        from jobnode.core.models import Job

        raise_for_event(event)
        assert event["job"] is not None
        return self._finish(context, Job.model_validate(event["job"]))

    def on_kill(self) -> None:
        """Cancel the job this task is waiting for on the worker."""
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
        self.log.info("cancelled job %s (it is %s)", job_id, job.state.value)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The job's inputs and outputs as OpenLineage datasets, and its id as a run facet."""
        from jobnode.airflow.openlineage import job_lineage

        if self._job is None:
            from airflow.providers.openlineage.extractors import OperatorLineage

            return OperatorLineage()
        files = [*(self.files or ()), *(self.delimited or ())]
        return job_lineage(self._job, files=files, artifacts=self.artifacts or ())

    # -- steps -------------------------------------------------------------------------------------------------

    def _push_ids(self, context: Context, job: Job, jobs: list[str]) -> None:
        ti = context["ti"]
        ti.xcom_push(key=XCOM_JOB_ID, value=job.id)
        ti.xcom_push(key=XCOM_JOB_URL, value=job.url)
        ti.xcom_push(key=XCOM_JOB_IDS, value=jobs)

    def _defer(self, job: Job) -> None:
        from jobnode.airflow.triggers import JobnodeJobTrigger

        self.log.info("job %s: %s; waiting in the triggerer", job.id, job.state.value)
        timeout_at = None if self.timeout is None else time.time() + self.timeout
        self.defer(
            trigger=JobnodeJobTrigger(
                job_id=job.id,
                jobnode_conn_id=self.jobnode_conn_id,
                timeout_at=timeout_at,
                progress_every=self.progress_every,
            ),
            method_name="execute_complete",
        )

    def _poll(self, client: Client, job_id: str, progress: Callable[[Job], None]) -> Job:
        from jobnode.core.errors import UnsupportedOperation, WaitTimeout

        try:
            return client.jobs.wait(
                job_id, timeout=self.timeout, poll_interval=self.check_interval, on_progress=progress
            )
        except WaitTimeout as exc:
            try:
                job = client.jobs.cancel(job_id)
            except UnsupportedOperation as unsupported:
                raise AirflowException(f"{exc}; it was not cancelled and goes on: {unsupported}") from exc
            raise AirflowException(f"{exc}; it was cancelled (it is {job.state.value})") from exc

    def _finish(self, context: Context, job: Job) -> dict[str, Any]:
        from jobnode.airflow._results import job_summary

        self._job = job
        summary = job_summary(job)
        self.log.info(
            "job %s %s: %s; outputs: %s",
            job.id,
            job.state.value,
            summary["message"],
            ", ".join(summary["outputs"]) or "none",
        )
        self._record_outlets(context, summary)
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


class JobnodeFetchLogsOperator(_JobnodeTask):
    """Copies a job's log entries into the task log, optionally to a file, and returns a summary.

    Every entry that matches the filters is read, page by page (never all in memory, whatever the size of the log).
    With `output_path`, the entries are also written as JSON lines to that `ObjectStoragePath` (any fsspec URL:
    `file:///...`, `s3://...`). The summary counts entries by level and keeps the first errors; with `max_errors`,
    more error entries than that fail the task. On a platform without a logs API (Cortex) the task is skipped,
    saying so.

    Example:
        ```python
        logs = JobnodeFetchLogsOperator(
            task_id="logs",
            job_id="{{ ti.xcom_pull('score', key='job_id') }}",
            min_level="warning",
            output_path="file:///var/log/jobs/{{ run_id }}.jsonl",
            max_errors=0,
        )
        ```

    Args:
        job_id: the job (templated).
        min_level: the lowest level to read: debug, info, warning or error (templated).
        kind: only entries of this kind (`ItemSucceeded`, `ItemFailed`, ...; templated).
        after_time: only entries after this time (a datetime or ISO 8601 text; templated).
        before_time: only entries before this time (templated).
        output_path: where to write the entries as JSON lines (an `ObjectStoragePath` or URL; templated).
        echo: copy each entry into the task log.
        max_errors: fail the task when there are more error entries than this.
        first_errors: how many error entries the summary keeps.
    """

    template_fields: Sequence[str] = (
        "job_id",
        "min_level",
        "kind",
        "after_time",
        "before_time",
        "output_path",
        "jobnode_conn_id",
    )
    operator_extra_links = (JobnodeJobLink(),)
    ui_color = "#f3f0e8"

    def __init__(
        self,
        *,
        job_id: str,
        min_level: str | None = None,
        kind: str | None = None,
        after_time: datetime | str | None = None,
        before_time: datetime | str | None = None,
        output_path: Any = None,
        echo: bool = True,
        max_errors: int | None = None,
        first_errors: int = 10,
        jobnode_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(jobnode_conn_id=jobnode_conn_id, **kwargs)
        self.job_id = job_id
        self.min_level = min_level
        self.kind = kind
        self.after_time = after_time
        self.before_time = before_time
        self.output_path = output_path
        self.echo = echo
        self.max_errors = max_errors
        self.first_errors = first_errors

    def filters(self) -> dict[str, Any]:
        """The rendered filters as `iter_logs` takes them; a wrong one fails the task without retries."""
        from jobnode.core.models import LogLevel

        filters: dict[str, Any] = {"kind": self.kind or None}
        if self.min_level:
            try:
                filters["min_level"] = LogLevel(str(self.min_level).lower())
            except ValueError:
                raise AirflowFailException(
                    f"min_level must be debug, info, warning or error (got {self.min_level!r})"
                ) from None
        for name in ("after_time", "before_time"):
            value = getattr(self, name)
            if isinstance(value, str) and value:
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    raise AirflowFailException(f"{name} must be an ISO 8601 time (got {value!r})") from None
            filters[name] = value or None
        return filters

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk import ObjectStoragePath

        from jobnode.core.models import LogLevel

        filters = self.filters()
        counts: Counter[str] = Counter()
        first: list[str] = []
        path = ObjectStoragePath(self.output_path) if self.output_path else None
        with self._client() as client:
            context["ti"].xcom_push(key=XCOM_JOB_URL, value=client.job_url(self.job_id))
            _skip_unless(client, "logs", f"job {self.job_id} has no log entries to fetch")
            with path.open("w") if path is not None else _nowhere() as sink:  # type: ignore[no-untyped-call]
                for entry in client.jobs.iter_logs(self.job_id, **filters):
                    counts[entry.level.value] += 1
                    line = _log_line(entry)
                    if entry.level is LogLevel.ERROR and len(first) < self.first_errors:
                        first.append(line)
                    if self.echo:
                        self.log.log(_LEVELS[entry.level.value], "%s", line)
                    if sink is not None:
                        sink.write(entry.model_dump_json() + "\n")
        summary = {
            "job_id": self.job_id,
            "entries": sum(counts.values()),
            "by_level": dict(counts),
            "first_errors": first,
            "output": str(path) if path is not None else None,
        }
        self.log.info(
            "job %s: %d log entries (%s)%s",
            self.job_id,
            summary["entries"],
            ", ".join(f"{n} {lvl}" for lvl, n in sorted(counts.items())) or "none",
            f", written to {path}" if path is not None else "",
        )
        if self.max_errors is not None and counts["error"] > self.max_errors:
            raise AirflowException(
                f"job {self.job_id} logged {counts['error']} errors (at most {self.max_errors} allowed); "
                "first ones:\n" + "\n".join(f"  - {line}" for line in first)
            )
        return summary


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _skip_unless(client: Client, capability: Capability, consequence: str) -> None:
    """Skip the task, saying so plainly, when the platform does not offer the operation it is for."""
    if not client.backend.capabilities.supports(capability):
        from jobnode.core.errors import UnsupportedOperation

        raise AirflowSkipException(f"{UnsupportedOperation(client.platform, capability)}: {consequence}")


@contextmanager
def _nowhere() -> Iterator[None]:
    yield None


def _log_line(entry: LogEntry) -> str:
    parts = [entry.time.isoformat(), entry.level.value.upper(), entry.kind]
    if entry.item is not None:
        parts.append(f"item={entry.item}")
    if entry.status:
        parts.append(f"status={entry.status}")
    if entry.duration_ms is not None:
        parts.append(f"{entry.duration_ms:.0f}ms")
    if entry.message:
        parts.append(entry.message)
    return " ".join(parts)


class JobnodeCleanupOperator(_JobnodeTask):
    """Deletes the jobs this DAG run created, under the lineage rules, and keeps what is still used.

    The jobs are those of the submit tasks of the DAG (or of `submit_task_ids`), from their XCom (every job a task
    started, retries included), plus `job_ids`. A job is kept, with its outputs, when a job outside the cleanup
    reads them, when they are in `protect`, or (with `protect_outlets`) when its submit task declares outlet
    assets: downstream DAGs read those outputs. Jobs that have not ended are kept too. The rest is deleted in a
    safe order (consumers before producers); on a platform that cannot delete jobs (Nucleus), every job is kept
    and the log says so. By default the task runs whatever happened upstream
    (`trigger_rule="all_done"`), so a failed run is cleaned up as well. The plan, what was deleted and what was
    kept (and why) go to the task log; the task returns the cleanup report. On a platform that cannot delete jobs
    (Cortex) the task is skipped, saying so: every job is kept.

    Example:
        ```python
        cleanup = JobnodeCleanupOperator(task_id="cleanup", protect=["{{ params.keep_artifact }}"])
        [extract, transform] >> cleanup
        ```

    Args:
        job_ids: more jobs to clean up (templated).
        submit_task_ids: the submit tasks whose jobs to clean up; all of the DAG's by default.
        delete_outputs: delete the jobs' output artifacts with them (a job with outputs is kept otherwise).
        protect: artifact ids that must survive (templated).
        protect_outlets: keep the outputs of submit tasks that declare outlet assets.
        dry_run: plan and log, delete nothing (kept as `plan_only`: operators already have a `dry_run` method).
    """

    template_fields: Sequence[str] = ("job_ids", "protect", "jobnode_conn_id")
    ui_color = "#f0e8e8"

    def __init__(
        self,
        *,
        job_ids: Sequence[str] = (),
        submit_task_ids: Sequence[str] | None = None,
        delete_outputs: bool = True,
        protect: Sequence[str] = (),
        protect_outlets: bool = True,
        dry_run: bool = False,
        jobnode_conn_id: str = DEFAULT_CONN_ID,
        trigger_rule: str = TriggerRule.ALL_DONE,
        **kwargs: Any,
    ) -> None:
        super().__init__(jobnode_conn_id=jobnode_conn_id, trigger_rule=trigger_rule, **kwargs)
        self.job_ids = job_ids
        self.submit_task_ids = submit_task_ids
        self.delete_outputs = delete_outputs
        self.protect = protect
        self.protect_outlets = protect_outlets
        self.plan_only = dry_run

    def submit_tasks(self) -> list[Any]:
        """The submit tasks whose jobs this cleanup deletes."""
        tasks = [t for t in self.dag.tasks if _is_submit(t)]
        if self.submit_task_ids is not None:
            wanted = set(self.submit_task_ids)
            unknown = wanted - {t.task_id for t in tasks}
            if unknown:
                raise AirflowFailException(
                    f"submit_task_ids: {', '.join(sorted(unknown))} are not JobnodeSubmitJobOperator tasks of "
                    f"DAG {self.dag.dag_id}"
                )
            tasks = [t for t in tasks if t.task_id in wanted]
        return tasks

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        tasks = self.submit_tasks()
        job_ids = [*self.job_ids, *_pulled(ti, [t.task_id for t in tasks], XCOM_JOB_IDS)]
        job_ids = list(dict.fromkeys(str(j) for j in job_ids))
        if not job_ids:
            self.log.info("no jobs to clean up")
            return {"jobs": [], "deleted_jobs": [], "deleted_artifacts": [], "kept": []}
        with self._client() as client:
            _skip_unless(client, "delete", f"jobs {', '.join(job_ids)} are kept")
            protect = [*self.protect]
            if self.protect_outlets:
                protect += self._outlet_outputs(client, ti, [t.task_id for t in tasks if t.outlets])
            report = client.jobs.cleanup(
                job_ids, delete_outputs=self.delete_outputs, protect=protect, dry_run=self.plan_only
            )
        plan = report.plan
        self.log.info(
            "cleanup of %d jobs%s; plan: %s",
            len(job_ids),
            " (dry run)" if self.plan_only else "",
            "; ".join(f"{s.action} {s.id}" for s in plan.steps) or "nothing to delete",
        )
        for blocker in report.kept:
            self.log.info("kept %s: %s", blocker.id, blocker.reason)
        self.log.info(
            "%s %d jobs (%s) and %d artifacts",
            "would delete" if self.plan_only else "deleted",
            len(report.deleted_jobs),
            ", ".join(report.deleted_jobs) or "none",
            len(report.deleted_artifacts),
        )
        return {"jobs": job_ids, **report.model_dump(mode="json")}

    def _outlet_outputs(self, client: Client, ti: Any, task_ids: list[str]) -> list[str]:
        from jobnode.core.errors import NotFound

        outputs: list[str] = []
        for job_id in _pulled(ti, task_ids, XCOM_JOB_ID):
            try:
                job = client.jobs.get(str(job_id))
            except NotFound:
                continue
            outputs += [a.id for a in job.outputs]
        if outputs:
            self.log.info("protecting the outputs of tasks with outlet assets: %s", ", ".join(outputs))
        return outputs


def _is_submit(task: Any) -> bool:
    # a mapped task is a MappedOperator whose operator_class is the submit operator
    cls = getattr(task, "operator_class", type(task))
    return isinstance(cls, type) and issubclass(cls, JobnodeSubmitJobOperator)


def _pulled(ti: Any, task_ids: list[str], key: str) -> list[Any]:
    """The XCom values of `key` of these tasks, every map index, lists flattened, missing ones left out."""
    if not task_ids:
        return []
    values = ti.xcom_pull(task_ids=task_ids, key=key) or []
    out: list[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(value)
        elif value is not None:
            out.append(value)
    return out


class JobnodeCancelJobOperator(_JobnodeTask):
    """Cancels a job (cancelling a job that has ended changes nothing) and returns its summary. On a platform that
    cannot cancel jobs (Nucleus) it cancels nothing, says so in the task log, and returns the job as it is.

    Example:
        ```python
        stop = JobnodeCancelJobOperator(task_id="stop", job_id="{{ ti.xcom_pull('score', key='job_id') }}")
        ```

    Args:
        job_id: the job (templated).
    """

    template_fields: Sequence[str] = ("job_id", "jobnode_conn_id")
    operator_extra_links = (JobnodeJobLink(),)

    def __init__(self, *, job_id: str, jobnode_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(jobnode_conn_id=jobnode_conn_id, **kwargs)
        self.job_id = job_id

    def execute(self, context: Context) -> dict[str, Any]:
        from jobnode.airflow._results import job_summary, not_retryable
        from jobnode.core.errors import UnsupportedOperation

        with self._client() as client:
            try:
                job = client.jobs.cancel(self.job_id)
            except UnsupportedOperation as exc:
                # say what was not done, and how the job is, rather than fail a task that nothing can make succeed
                job = client.jobs.get(self.job_id)
                self.log.warning("job %s was not cancelled (it is %s): %s", job.id, job.state.value, exc)
            except Exception as exc:
                not_retryable(exc, f"cannot cancel job {self.job_id}")
                raise
        context["ti"].xcom_push(key=XCOM_JOB_URL, value=job.url)
        self.log.info("job %s is %s", job.id, job.state.value)
        return job_summary(job)
