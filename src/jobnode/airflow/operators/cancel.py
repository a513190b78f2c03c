"""`JobnodeCancelJobOperator`: cancel a job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobnode.airflow.links import XCOM_JOB_URL, JobnodeJobLink
from jobnode.airflow.operators._base import DEFAULT_CONN_ID, JobnodeTask

if TYPE_CHECKING:
    from airflow.sdk import Context


class JobnodeCancelJobOperator(JobnodeTask):
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
        return job_summary([job])
