"""A DAG for the end-to-end test with two triggerers: six deferred waits on jobs held open (the `gate` step) until
the test has killed the triggerer that first ran them; the other triggerer must finish every wait, each once, on the
same jobs."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from jobnode.airflow.operators import JobnodeSubmitJobOperator

WAITS = 6

with DAG(dag_id="jobnode_triggerers_test", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    for n in range(WAITS):
        JobnodeSubmitJobOperator(
            task_id=f"wait_{n}",
            name=f"live-moved-{n}",
            step="gate",
            step_params={"gate": "{{ var.value.moved_gate }}", "held": ["held"]},
            items=["held"],
            deferrable=True,
            check_interval=1.0,
        )
