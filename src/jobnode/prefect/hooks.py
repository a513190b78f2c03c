"""Prefect hooks that keep remote jobs from outliving the runs that started them.

`cancel_remote_jobs()` is a flow `on_cancellation` hook. When a served or worker-run deployment is cancelled, Prefect
kills the flow's process and runs the hook in another one (the runner), so the hook knows nothing the flow had in
memory: it finds the flow run's jobs by their `prefect-flow-run:<id>` tag and cancels those that have not ended.

`undo_submitted_job` is the `on_rollback` hook of the submit tasks: when a task after the submit fails inside a
Prefect `transaction()`, the job is cancelled and deleted with its outputs (where the lineage rules allow). A task
run attempt that Prefect will retry rolls back too (each attempt is a transaction of its own): its job is kept,
so that the retry reattaches to it instead of starting a second one.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow
from prefect.blocks.core import Block
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import TaskRunContext
from prefect.flows import FlowStateHook
from prefect.transactions import Transaction

from jobnode.client import run_sync
from jobnode.prefect.context import run_logger
from jobnode.prefect.credentials import JobnodeCredentials, async_client
from jobnode.prefect.jobs import cancel_flow_run_jobs, undo

#: where a submit task leaves its job for `undo_submitted_job` (transaction values live in the flow's memory)
TXN_JOB_ID = "jobnode-job-id"
TXN_CREDENTIALS = "jobnode-credentials"


def cancel_remote_jobs(
    credentials: JobnodeCredentials | str | None = None, *, parameter: str = "credentials"
) -> FlowStateHook[..., Any]:
    """An `on_cancellation` hook that cancels the flow run's jobs that have not ended.

    Args:
        credentials: the credentials block, or the name of a saved one; by default the saved block passed to the
            flow run as its `parameter` parameter, else `JOBNODE_URL` and `JOBNODE_TOKEN`.
        parameter: the flow parameter that holds the credentials block.

    Example:
        ```python
        from prefect import flow
        from jobnode.prefect import cancel_remote_jobs, submit_job_sync, wait_for_job_sync

        @flow(on_cancellation=[cancel_remote_jobs()])
        def nightly():
            job = submit_job_sync(name="nightly", step="sentiment", items=["good", "bad"])
            wait_for_job_sync(job.id)
        ```
    """

    async def cancel_remote_jobs(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
        resolved = await _resolve(credentials, (flow_run.parameters or {}).get(parameter))
        async with async_client(resolved) as client:
            cancelled = await cancel_flow_run_jobs(client, str(flow_run.id))
        if not cancelled and client.backend.capabilities.cancel:
            run_logger().info("flow run %s has no running jobs to cancel", flow_run.id)

    return cancel_remote_jobs


async def _resolve(credentials: JobnodeCredentials | str | None, parameter: Any) -> JobnodeCredentials | None:
    """The credentials to use from another process: an explicit block, a saved block by name, or the saved block
    the flow run received as a parameter (the flow run's parameters hold a reference to it, with secrets masked)."""
    if isinstance(credentials, JobnodeCredentials):
        return credentials
    if isinstance(credentials, str):
        return await JobnodeCredentials.aload(credentials)
    ref = _block_reference(parameter)
    if ref is None:
        return None
    block = await Block.aload_from_ref(ref)
    return block if isinstance(block, JobnodeCredentials) else None


def _block_reference(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("$ref"), dict):
        return dict(value["$ref"])
    if value.get("_block_document_id"):
        return {"block_document_id": value["_block_document_id"]}
    return None


def undo_submitted_job(txn: Transaction) -> None:
    """Roll back a submit: cancel the job it started and delete it with its outputs, unless the rollback is that
    of a task run attempt that Prefect will run again.

    A sync hook, because Prefect's hook type is sync; an async transaction runs it on a worker thread.
    """
    job_id = txn.get(TXN_JOB_ID, None)
    if job_id is None:
        return
    if _will_run_again():
        run_logger().info("job %s is kept: the task run that rolled back will run again and reattach to it", job_id)
        return
    run_sync(_undo(job_id, txn.get(TXN_CREDENTIALS, None)))


def _will_run_again() -> bool:
    """Whether the task run whose failed attempt is rolling back will run again (it has retries left).

    A rollback runs inside the engine of the task run that failed, before the engine decides on a retry, so this
    counts the attempts as the engine will (a `retry_condition_fn` is not consulted: it needs the exception).
    """
    context = TaskRunContext.get()
    return context is not None and context.task_run.run_count <= context.task.retries


async def _undo(job_id: str, credentials: JobnodeCredentials | None) -> None:
    async with async_client(credentials) as client:
        await undo(client, job_id)
