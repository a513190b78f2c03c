"""A DAG for the end-to-end tests: a job whose output is an outlet asset, a job that reads it, a job that fails,
and the clean-up that runs anyway. Expected afterwards: the producer and its output stay (an outlet asset), the
reader and the failed job are deleted."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset

from jobnode.airflow.operators import JobnodeCleanupOperator, JobnodeSubmitJobOperator

with DAG(dag_id="jobnode_lineage_test", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    produce = JobnodeSubmitJobOperator(
        task_id="produce",
        name="lineage-produce",
        step="identity",
        items=[{"id": i, "text": f"review {i}"} for i in range(6)],
        outlets=[Asset("jobnode://tests/lineage-produce")],
        check_interval=0.5,
    )
    read = JobnodeSubmitJobOperator(
        task_id="read",
        name="lineage-read",
        step="identity",
        artifacts=produce.output["outputs"],
        check_interval=0.5,
    )
    failing = JobnodeSubmitJobOperator(
        task_id="failing",
        name="lineage-failing",
        step="fail",
        step_params={"fail_items": [2]},
        items=[1, 2, 3],
        check_interval=0.5,
    )
    cleanup = JobnodeCleanupOperator(task_id="cleanup")
    produce >> read >> failing >> cleanup
