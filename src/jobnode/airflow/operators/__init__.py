"""Operators: submit a job (and wait for it, deferred or on the worker), fetch its logs, clean up, cancel.

The operators orchestrate; the I/O is the client's (through `JobnodeHook`). This module imports only Airflow's
task SDK at import time, so that DAG files that use it parse fast; the client is loaded when a task runs.
"""

from jobnode.airflow.operators._base import DEFAULT_CONN_ID, default_deferrable
from jobnode.airflow.operators.cancel import JobnodeCancelJobOperator
from jobnode.airflow.operators.cleanup import JobnodeCleanupOperator
from jobnode.airflow.operators.logs import JobnodeFetchLogsOperator
from jobnode.airflow.operators.submit import STATE_KEY, JobnodeSubmitJobOperator

__all__ = [
    "DEFAULT_CONN_ID",
    "STATE_KEY",
    "JobnodeCancelJobOperator",
    "JobnodeCleanupOperator",
    "JobnodeFetchLogsOperator",
    "JobnodeSubmitJobOperator",
    "default_deferrable",
]
