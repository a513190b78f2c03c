"""A DAG for the end-to-end test of OpenLineage: a job that a sensor waits for and whose logs are read, a job that
fails, and the cleanup. Every task reports the job it is about (and the failed one its datasets too)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from jobnode.airflow.operators import JobnodeCleanupOperator, JobnodeFetchLogsOperator, JobnodeSubmitJobOperator
from jobnode.airflow.sensors import JobnodeJobSensor

with DAG(dag_id="jobnode_openlineage_test", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    produce = JobnodeSubmitJobOperator(
        task_id="produce", name="ol-produce", step="identity", items=[1, 2, 3], wait_for_completion=False
    )
    wait = JobnodeJobSensor(task_id="wait", job_id=produce.output["job_id"], poke_interval=0.5, deferrable=False)
    logs = JobnodeFetchLogsOperator(task_id="logs", job_id=produce.output["job_id"])
    failing = JobnodeSubmitJobOperator(
        task_id="failing",
        name="ol-failing",
        step="fail",
        step_params={"fail_items": [2]},
        artifacts=["{{ ti.xcom_pull('produce', key='job_id') }}/results"],
        check_interval=0.5,
    )
    produce >> wait >> logs >> failing >> JobnodeCleanupOperator(task_id="cleanup")
