"""A DAG for the end-to-end test with real Airflow processes:

- `deferred`: waits in the triggerer; the test then marks it failed, which must cancel its job;
- `killed`: its first try is killed after it started its job; its retry must wait for that same job;
- `worker_timeout` and `deferred_timeout`: jobs that outlive the task's `execution_timeout`, on the worker and in the
  triggerer; both tasks must fail and cancel their jobs;
- `changing`: its request comes from a Variable; once it succeeded, the test changes the Variable and clears the
  task, which must run the new request as a new job.
"""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from jobnode.airflow.operators import JobnodeSubmitJobOperator


class DiesOnFirstTry(JobnodeSubmitJobOperator):
    """Starts its job, then dies on its first try the way a killed worker does: SIGKILL, no clean-up at all."""

    def execute(self, context: Any) -> Any:
        if context["ti"].try_number == 1:
            self.wait_for_completion = False
            super().execute(context)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().execute(context)


with DAG(dag_id="jobnode_live_test", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    JobnodeSubmitJobOperator(
        task_id="deferred",
        name="live-deferred",
        step="sleep",
        step_params={"seconds": 600},
        items=[1],
        deferrable=True,
    )
    DiesOnFirstTry(
        task_id="killed",
        name="live-killed",
        step="sleep",
        step_params={"seconds": 45},
        items=[1],
        deferrable=False,
        check_interval=1.0,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
    JobnodeSubmitJobOperator(
        task_id="worker_timeout",
        name="live-worker-timeout",
        step="sleep",
        step_params={"seconds": 600},
        items=[1],
        deferrable=False,
        check_interval=1.0,
        execution_timeout=timedelta(seconds=15),
    )
    JobnodeSubmitJobOperator(
        task_id="changing",
        name="live-changing",
        step="sleep",
        step_params={"seconds": "{{ var.value.live_seconds }}"},
        items=[1],
        deferrable=False,
        check_interval=0.5,
    )
    JobnodeSubmitJobOperator(
        task_id="deferred_timeout",
        name="live-deferred-timeout",
        step="sleep",
        step_params={"seconds": 600},
        items=[1],
        deferrable=True,
        execution_timeout=timedelta(seconds=20),
    )
