"""Two batch jobs as an Airflow DAG: stage reviews, then score their sentiment, on the platform a connection names.

The `jobnode_conn_id` param picks the connection, and the connection's type picks the platform: `jobnode_default`
(the local job service) by default, or a `jobnode_nexus` connection to run the same DAG on Datature Nexus. Where
the staging job produces an output artifact (the local service), the scoring job reads it, so the service records
the lineage; where results go to a webhook instead (Nexus), the scoring job reads the staging job's own input, the
dataset the reviews were uploaded as. The scoring job's logs are copied into the task log (and, with the `logs_to`
param, to a file), the labels are counted where the output can be read, and the clean-up at the end deletes both
jobs and their outputs, consumer first. The clean-up is an Airflow teardown task: it runs whatever happened upstream,
and a run whose job failed still ends `failed`. A retried task reattaches to the job it started, or, after its job
failed, runs only the failed reviews again (`retry_from_failure`).

    export AIRFLOW_CONN_JOBNODE_DEFAULT='{"conn_type": "jobnode", "host": "127.0.0.1", "port": 8765, "password": "..."}'
    airflow dags test jobnode_example                                  # waits on the worker
    AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE=true airflow dags test jobnode_example   # waits in the triggerer
    airflow dags test jobnode_example --conf '{"logs_to": "file:///tmp/score-logs.jsonl"}'

    export AIRFLOW_CONN_JOBNODE_NEXUS_DEFAULT='{"conn_type": "jobnode_nexus", "password": "<secret key>",
        "extra": {"project_id": "proj_...", "webhook_id": "webhook_...",
                  "deployments": {"identity": "deploy_...", "sentiment": "deploy_..."}}}'
    airflow dags test jobnode_example --conf '{"jobnode_conn_id": "jobnode_nexus_default"}'
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, task

from jobnode.airflow.operators import JobnodeCleanupOperator, JobnodeFetchLogsOperator, JobnodeSubmitJobOperator

REVIEWS = [
    "The delivery was great and fast.",
    "Support was terrible, I want a refund.",
    "This product is not bad at all.",
    "Honestly the app is slow and broken.",
    "The hotel room was lovely, I would recommend it.",
    "The delivery was okay I guess.",
    "Support was awful and rude.",
    "This product is perfect, the best.",
    "Honestly the app is not good.",
    "The hotel room was fine.",
]

#: every jobnode task of a run uses the connection its `jobnode_conn_id` param names
CONN_ID = "{{ params.jobnode_conn_id }}"

with DAG(
    dag_id="jobnode_example",
    description="Stage reviews, score their sentiment, fetch the logs, clean up: two jobnode jobs.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "jobnode_conn_id": Param(
            "jobnode_default",
            type="string",
            description="the jobnode connection the jobs run through; its type picks the platform "
            "(jobnode: the local job service, jobnode_nexus: Datature Nexus)",
        ),
        "logs_to": Param("", type="string", description="an fsspec URL to write the scoring logs to"),
    },
    tags=["jobnode", "example"],
    doc_md=__doc__,
) as dag:
    stage = JobnodeSubmitJobOperator(
        task_id="stage_reviews",
        jobnode_conn_id=CONN_ID,
        name="stage-reviews",
        step="identity",
        items=[{"id": f"review-{i:03d}", "text": text} for i, text in enumerate(REVIEWS)],
        batch_size=50,
        timeout=300,
    )

    @task
    def scoring_input(staged: dict[str, Any]) -> list[str]:
        """The staging job's outputs where it has any; else its input (on Nexus, the dataset of the reviews)."""
        return list(staged["outputs"] or staged["inputs"])

    score = JobnodeSubmitJobOperator(
        task_id="score_reviews",
        jobnode_conn_id=CONN_ID,
        name="score-reviews",
        step="sentiment",
        artifacts=scoring_input(stage.output),
        batch_size=4,
        workers=2,
        timeout=300,
        retries=1,
        retry_from_failure=True,
    )
    logs = JobnodeFetchLogsOperator(
        task_id="score_logs",
        jobnode_conn_id=CONN_ID,
        job_id=score.output["job_id"],
        output_path="{{ params.logs_to }}",
        max_errors=0,
    )

    @task
    def count_labels(summary: dict[str, Any], conn_id: str) -> dict[str, int]:
        """How many reviews got each label, read from the scoring job's output; skipped where the platform
        delivered the results to a webhook instead (Nexus)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from jobnode.airflow.hooks import JobnodeHook

        if not summary["outputs"]:
            raise AirflowSkipException(f"job {summary['job_id']} left no output to read: its results went to a webhook")
        hook = JobnodeHook(conn_id)
        try:
            return dict(Counter(r["label"] for r in hook.client.artifacts.read(summary["outputs"][0])))
        finally:
            hook.close()

    # a teardown task (the operator's default): it runs once everything upstream is done, and the run's state is
    # that of the tasks before it, so a failed job fails the run and is cleaned up all the same
    cleanup = JobnodeCleanupOperator(task_id="cleanup", jobnode_conn_id=CONN_ID)

    score >> [logs, count_labels(score.output, CONN_ID)] >> cleanup
