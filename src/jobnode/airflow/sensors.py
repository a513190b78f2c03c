"""`JobnodeJobSensor`: waits for an existing job (usually one an upstream task started) to end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout

from jobnode.airflow.links import XCOM_JOB_URL, JobnodeJobLink
from jobnode.airflow.operators import DEFAULT_CONN_ID, default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context

    from jobnode.airflow.triggers import JobEventPayload
    from jobnode.core.models import Job


class JobnodeJobSensor(BaseSensorOperator):
    """Succeeds when the job has succeeded; fails at once, with its reason and last errors, when it ended otherwise.

    Deferrable by default as `[operators] default_deferrable` says: the wait then runs in the triggerer, through the
    connection's shared client. The sensor's `timeout` applies in both modes; a timed-out sensor leaves the job
    running unless `cancel_on_timeout`. Killing the sensor never cancels the job: it waits for a job it did not start.
    Returns the job's summary (`job_id`, `state`, `url`, `inputs`, `outputs`).

    Example:
        ```python
        wait = JobnodeJobSensor(task_id="wait", job_id="{{ ti.xcom_pull('score', key='job_id') }}", timeout=3600)
        ```

    Args:
        job_id: the job (templated).
        jobnode_conn_id: the jobnode connection (templated).
        deferrable: wait in the triggerer.
        cancel_on_timeout: cancel the job when the sensor times out.
        progress_every: seconds between two progress lines in the task log (deferred mode).
    """

    template_fields: Sequence[str] = ("job_id", "jobnode_conn_id")
    operator_extra_links = (JobnodeJobLink(),)
    ui_color = "#e8f0ff"

    def __init__(
        self,
        *,
        job_id: str,
        jobnode_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        cancel_on_timeout: bool = False,
        progress_every: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.jobnode_conn_id = jobnode_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.cancel_on_timeout = cancel_on_timeout
        self.progress_every = progress_every
        self._link_pushed = False
        self._job: Job | None = None

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        result = self.poke(context)
        if result:
            return result.xcom_value if isinstance(result, PokeReturnValue) else None
        from jobnode.airflow.triggers import JobnodeJobTrigger

        self.defer(
            trigger=JobnodeJobTrigger(
                job_id=self.job_id,
                jobnode_conn_id=self.jobnode_conn_id,
                timeout_at=time.time() + self.timeout,
                cancel_on_timeout=self.cancel_on_timeout,
                cancel_on_kill=False,
                progress_every=self.progress_every,
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Whether the job has ended; a job that ended in another state than succeeded fails the task."""
        from jobnode.airflow._results import job_summary, not_retryable, raise_if_failed
        from jobnode.airflow.hooks import JobnodeHook

        hook = JobnodeHook(self.jobnode_conn_id)
        try:
            try:
                job = hook.client.jobs.get(self.job_id)
            except Exception as exc:
                not_retryable(exc, f"cannot read job {self.job_id}")
                raise
            self._job = job
            if not self._link_pushed:
                context["ti"].xcom_push(key=XCOM_JOB_URL, value=job.url)
                self._link_pushed = True
            summary = job_summary([raise_if_failed(hook.client, job)])
        finally:
            hook.close()
        self.log.info("job %s: %s", job.id, summary["message"])
        return PokeReturnValue(is_done=True, xcom_value=summary) if job.is_terminal else False

    def execute_complete(self, context: Context, event: JobEventPayload) -> Any:
        from jobnode.airflow._results import job_summary, raise_for_event
        from jobnode.core.models import Job

        if event["job"] is not None:
            self._job = Job.model_validate(event["job"])
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(event["message"])
        raise_for_event(event)
        assert self._job is not None
        return job_summary([self._job])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The lineage of the job the sensor waited for (its inputs, outputs and id), whatever its end."""
        from jobnode.airflow.openlineage import job_lineage, no_lineage

        return job_lineage(self._job) if self._job is not None else no_lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_complete(task_instance)
