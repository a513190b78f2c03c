"""Two chained batch jobs on the local job service, as an Airflow DAG: stage reviews, then score their sentiment.

The second job reads the first one's output (`artifacts=stage.output["outputs"]`), so the service records the
lineage; the scoring job's logs are copied into the task log (and, with the `logs_to` parameter, to a file), the
labels are counted, and the clean-up at the end deletes both jobs and their outputs, consumer first.

    export AIRFLOW_CONN_JOBNODE_DEFAULT='{"conn_type": "jobnode", "host": "127.0.0.1", "port": 8765, "password": "..."}'
    airflow dags test jobnode_example                                  # waits on the worker
    AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE=true airflow dags test jobnode_example   # waits in the triggerer
    airflow dags test jobnode_example --conf '{"logs_to": "file:///tmp/score-logs.jsonl"}'
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

with DAG(
    dag_id="jobnode_example",
    description="Stage reviews, score their sentiment, fetch the logs, clean up: two chained jobnode jobs.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"logs_to": Param("", type="string", description="an fsspec URL to write the scoring logs to")},
    tags=["jobnode", "example"],
    doc_md=__doc__,
) as dag:
    stage = JobnodeSubmitJobOperator(
        task_id="stage_reviews",
        name="stage-reviews",
        step="identity",
        items=[{"id": f"review-{i:03d}", "text": text} for i, text in enumerate(REVIEWS)],
        batch_size=50,
        timeout=300,
    )
    score = JobnodeSubmitJobOperator(
        task_id="score_reviews",
        name="score-reviews",
        step="sentiment",
        artifacts=stage.output["outputs"],
        step_params={"top_k": 3},
        batch_size=4,
        workers=2,
        timeout=300,
    )
    logs = JobnodeFetchLogsOperator(
        task_id="score_logs",
        job_id=score.output["job_id"],
        output_path="{{ params.logs_to }}",
        max_errors=0,
    )

    @task
    def count_labels(summary: dict[str, Any]) -> dict[str, int]:
        """How many reviews got each label, read from the scoring job's output."""
        from jobnode.airflow.hooks import JobnodeHook

        hook = JobnodeHook()
        try:
            return dict(Counter(r["label"] for r in hook.client.artifacts.read(summary["outputs"][0])))
        finally:
            hook.close()

    cleanup = JobnodeCleanupOperator(task_id="cleanup")

    stage >> score >> [logs, count_labels(score.output)] >> cleanup
