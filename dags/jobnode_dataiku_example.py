"""Rebuild a Dataiku DSS dataset from Airflow: what a DSS user scripts with the API client (`start_job`, a status loop,
`get_log`, aborting jobs that have not ended, listing failed jobs), as tasks of a DAG.

The project's flow (`project_key` of the `jobnode_dataiku_default` connection) is the reviews flow: the uploaded
dataset `reviews` holds the reviews, the recipe `identity` builds `reviews_staged` from it, and the recipe
`sentiment` builds `reviews_scored` from that. The DAG aborts the project's builds that have not ended (the guide's
"abort all jobs currently being processed"), rebuilds `reviews_scored` with a recursive build (each recipe runs as an
activity of the job, upstream first), copies the build log into the task log, counts the labels of the rebuilt
dataset, reports the project's builds that failed since the run's data interval began, and clears what the build
wrote, under the flow's lineage (the uploaded reviews stay).

    export AIRFLOW_CONN_JOBNODE_DATAIKU_DEFAULT='{"conn_type": "jobnode_dataiku", "host": "https://dss.example.com",
        "password": "<API key>", "extra": {"project_key": "REVIEWS"}}'
    airflow dags test jobnode_dataiku_example

Against the local service instead of DSS, declare the flow and serve it:

    # reviews.toml
    [projects.REVIEWS.datasets.reviews]
    [projects.REVIEWS.datasets.reviews_staged]
    recipe = "identity"
    inputs = ["reviews"]
    [projects.REVIEWS.datasets.reviews_scored]
    recipe = "sentiment"
    inputs = ["reviews_staged"]

    JOBNODE_DATAIKU_FLOW=reviews.toml jobnode serve --platform dataiku --port 8080 --token "$API_KEY"

and upload the reviews into `reviews` (`project.get_dataset("reviews").uploaded_add_file(...)` with the API client,
one JSON object per line with a `text`), then point the connection's host at http://127.0.0.1:8080.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, task

from jobnode.airflow.operators import JobnodeCleanupOperator, JobnodeFetchLogsOperator, JobnodeSubmitJobOperator

CONN_ID = "jobnode_dataiku_default"
TARGET = "reviews_scored"

with DAG(
    dag_id="jobnode_dataiku_example",
    description="Rebuild a DSS dataset recursively, keep its build log, clear what it wrote.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"logs_to": Param("", type="string", description="an fsspec URL to write the build log to")},
    tags=["jobnode", "dataiku", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def abort_unfinished_builds() -> list[str]:
        """The guide's "abort all jobs currently being processed": a rebuild must not race an earlier one."""
        from jobnode.airflow.hooks import JobnodeDataikuHook

        hook = JobnodeDataikuHook(CONN_ID)
        try:
            running = hook.client.jobs.list(state=["queued", "running"]).data
            return [hook.client.jobs.cancel(job.id).id for job in running]
        finally:
            hook.close()

    build = JobnodeSubmitJobOperator(
        task_id="build_scores",
        jobnode_conn_id=CONN_ID,
        step="sentiment",  # the recipe that builds reviews_scored
        artifacts=["reviews_staged"],  # what it reads, in the connection's project
        step_params={"type": "RECURSIVE_FORCED_BUILD"},  # rebuild reviews_staged first
        timeout=1800,
    )
    build_log = JobnodeFetchLogsOperator(
        task_id="build_log",
        jobnode_conn_id=CONN_ID,
        job_id=build.output["job_id"],
        output_path="{{ params.logs_to }}",
        max_errors=0,
    )

    @task
    def count_labels(outputs: list[str]) -> dict[str, int]:
        """How many reviews got each label, read from the rebuilt dataset."""
        from jobnode.airflow.hooks import JobnodeDataikuHook

        [scored] = [o for o in outputs if o.rpartition(".")[2] == TARGET]
        hook = JobnodeDataikuHook(CONN_ID)
        try:
            return dict(Counter(row["label"] for row in hook.client.artifacts.read(scored)))
        finally:
            hook.close()

    @task
    def failed_builds(data_interval_start: Any = None) -> list[str]:
        """The guide's report: the project's builds that failed since the data interval began."""
        from jobnode.airflow.hooks import JobnodeDataikuHook

        hook = JobnodeDataikuHook(CONN_ID)
        try:
            failed = hook.client.jobs.list(state="failed", limit=1000).data
            since = data_interval_start
            return [j.id for j in failed if since is None or (j.created_at is not None and j.created_at >= since)]
        finally:
            hook.close()

    cleanup = JobnodeCleanupOperator(task_id="cleanup", jobnode_conn_id=CONN_ID)

    abort_unfinished_builds() >> build
    build >> [build_log, count_labels(build.output["outputs"]), failed_builds()] >> cleanup
