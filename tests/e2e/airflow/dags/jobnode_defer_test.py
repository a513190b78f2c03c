"""A DAG for the end-to-end tests: one job that is still running when its task would defer (each batch sleeps),
so that its wait must go through the trigger."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from jobnode.airflow.operators import JobnodeSubmitJobOperator

with DAG(dag_id="jobnode_defer_test", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    JobnodeSubmitJobOperator(
        task_id="slow",
        name="defer-slow",
        step="sleep",
        step_params={"seconds": 2},
        items=[1, 2],
        batch_size=1,
        deferrable=True,
    )
