"""PinexQ jobs as an Airflow DAG: one job's output WorkData is read by two others, and the clean-up deletes what
PinexQ's rules allow and keeps what is still used.

What a PinexQ user does (select a processing step by name and version, configure its parameters, tag the job,
start it, wait through the platform's event stream, read the result), as Airflow tasks:

1. `stage_reviews` uploads the reviews as WorkData and runs the processing step `identity` over them: its output
   WorkData holds the staged reviews.
2. `score_reviews` runs `sentiment` (version 1, `top_k=2`) over that output: its output holds the labels, which
   `count_labels` reads.
3. `archive_reviews` also reads the staged reviews: an archive that outlives this run.
4. `cleanup` cleans up the staging and the scoring jobs. PinexQ deletes a job only once its output WorkData is gone,
   and WorkData only while no job reads it: the scoring job goes with its output; the staging job stays, with its
   output, because the archive job still reads it. The task log says what was deleted and why the rest was kept.

    export AIRFLOW_CONN_JOBNODE_PINEXQ_DEFAULT='{"conn_type": "jobnode_pinexq", "host": "https://myapihost.com",
        "password": "<API key>"}'
    airflow dags test jobnode_pinexq_example

Against the local service's emulator (`jobnode serve --platform pinexq`), the host is the service's URL and the
API key its token.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from jobnode.airflow.operators import JobnodeCleanupOperator, JobnodeSubmitJobOperator

REVIEWS = [
    "The delivery was great and fast.",
    "Support was terrible, I want a refund.",
    "This product is not bad at all.",
    "Honestly the app is slow and broken.",
    "The hotel room was lovely, I would recommend it.",
    "Support was awful and rude.",
]
CONN_ID = "jobnode_pinexq_default"

with DAG(
    dag_id="jobnode_pinexq_example",
    description="Stage reviews, score and archive them on PinexQ; clean up what PinexQ's rules allow.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["jobnode", "pinexq", "example"],
    doc_md=__doc__,
) as dag:
    stage = JobnodeSubmitJobOperator(
        task_id="stage_reviews",
        jobnode_conn_id=CONN_ID,
        name="stage-reviews",
        step="identity",
        items=[{"id": f"review-{i:03d}", "text": text} for i, text in enumerate(REVIEWS)],
        tags=["reviews", "{{ ds }}"],
        timeout=300,
    )
    score = JobnodeSubmitJobOperator(
        task_id="score_reviews",
        jobnode_conn_id=CONN_ID,
        name="score-reviews",
        step="sentiment",
        step_version="1",
        step_params={"top_k": 2},
        artifacts=stage.output["outputs"],
        tags=["reviews", "{{ ds }}"],
        timeout=300,
    )
    archive = JobnodeSubmitJobOperator(
        task_id="archive_reviews",
        jobnode_conn_id=CONN_ID,
        name="archive-reviews",
        step="identity",
        artifacts=stage.output["outputs"],
        tags=["reviews", "archive"],
        timeout=300,
    )

    @task
    def count_labels(outputs: list[str]) -> dict[str, int]:
        """How many reviews got each label, read from the scoring job's output WorkData."""
        from jobnode.airflow.hooks import JobnodePinexQHook

        hook = JobnodePinexQHook(CONN_ID)
        try:
            return dict(Counter(record["label"] for record in hook.client.artifacts.read(outputs[0])))
        finally:
            hook.close()

    cleanup = JobnodeCleanupOperator(
        task_id="cleanup", jobnode_conn_id=CONN_ID, submit_task_ids=["stage_reviews", "score_reviews"]
    )

    labels: Any = count_labels(score.output["outputs"])
    [labels, archive] >> cleanup
