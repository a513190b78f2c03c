"""A DAG that only the scheduler starts: a schedule whose last interval has passed, so a real scheduler creates a
scheduled run as soon as the DAG is parsed, and that run must complete (its job too, then the cleanup)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from jobnode.airflow.operators import JobnodeCleanupOperator, JobnodeSubmitJobOperator

with DAG(dag_id="jobnode_scheduled_test", schedule="@hourly", start_date=datetime(2026, 1, 1), catchup=False):
    JobnodeSubmitJobOperator(
        task_id="scheduled", name="live-scheduled", step="identity", items=[1, 2, 3], deferrable=True
    ) >> JobnodeCleanupOperator(task_id="cleanup", protect_outlets=False)
