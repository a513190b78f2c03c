"""`JobnodeCleanupOperator`: the clean-up of the DAG run's jobs under the lineage rules, as a teardown task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from jobnode.airflow.links import XCOM_JOB_ID, XCOM_JOB_IDS
from jobnode.airflow.operators._base import DEFAULT_CONN_ID, JobnodeTask
from jobnode.airflow.operators.submit import JobnodeSubmitJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from jobnode.client import CleanupReport, Client


class JobnodeCleanupOperator(JobnodeTask):
    """Deletes the jobs this DAG run created, under the lineage rules, and keeps what is still used.

    The jobs are those of the submit tasks of the DAG (or of `submit_task_ids`), from their XCom (every job a task
    started, retries included), plus `job_ids`. A job is kept, with its outputs, when a job outside the cleanup
    reads them, when they are in `protect`, or (with `protect_outlets`) when its submit task declares outlet
    assets: downstream DAGs read those outputs. Jobs that have not ended are kept too. The rest is deleted in a
    safe order (consumers before producers); on a platform that cannot delete jobs (Nucleus, Cortex), every job
    is kept and the log says so. The plan, what was deleted and what was kept (and why) go to the task
    log; the task returns the cleanup report.

    The task is an Airflow teardown task by default (`teardown=True`): it runs once everything upstream is done,
    whether it succeeded or not, and its own state does not decide the DAG run's, so a run whose job failed ends
    `failed` (and is cleaned up all the same), and a run whose jobs succeeded is not failed by a cleanup that could
    not delete something (unless `on_failure_fail_dagrun`). `teardown=False` makes it an ordinary task (give it a
    `trigger_rule` such as `all_done` then).

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
        teardown: make the task an Airflow teardown task (see above).
        on_failure_fail_dagrun: as a teardown, fail the DAG run when the cleanup fails.
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
        teardown: bool = True,
        on_failure_fail_dagrun: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(jobnode_conn_id=jobnode_conn_id, **kwargs)
        self.job_ids = job_ids
        self.submit_task_ids = submit_task_ids
        self.delete_outputs = delete_outputs
        self.protect = protect
        self.protect_outlets = protect_outlets
        self.plan_only = dry_run
        self._report: CleanupReport | None = None
        self._namespace: str | None = None
        if teardown:
            self.as_teardown(on_failure_fail_dagrun=on_failure_fail_dagrun)

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
        from jobnode.airflow.openlineage import platform_namespace

        with self._client() as client:
            protect = [*self.protect]
            if self.protect_outlets:
                protect += self._outlet_outputs(client, ti, [t.task_id for t in tasks if t.outlets])
            report = client.jobs.cleanup(
                job_ids, delete_outputs=self.delete_outputs, protect=protect, dry_run=self.plan_only
            )
            self._namespace = platform_namespace(client.platform, client.job_url(job_ids[0]))
        self._report = report
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

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The artifacts the cleanup deleted, as outputs whose lifecycle changed to DROP."""
        from jobnode.airflow.openlineage import cleanup_lineage, no_lineage

        if self._report is None or self._namespace is None or self.plan_only:
            return no_lineage()
        return cleanup_lineage(self._namespace, self._report.deleted_artifacts)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_complete(task_instance)

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
