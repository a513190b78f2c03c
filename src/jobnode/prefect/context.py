"""The Prefect run that jobnode code runs in: its flow run id, the tag and idempotency key derived from it, its logger.

A remote job outlives the Python process that submitted it, so everything that must find the job again (a retried
task, a retry of the flow run, an `on_cancellation` hook running in another process) derives it from durable facts:
the flow run id, stored on the job as a tag, and idempotency keys computed from the flow run id and the request.
"""

from __future__ import annotations

import hashlib
import logging
import re

from prefect.context import FlowRunContext, TaskRunContext
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from jobnode.core.models import JobSpec

FLOW_RUN_TAG_PREFIX = "prefect-flow-run:"

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


def current_flow_run_id() -> str | None:
    """The id of the flow run this code runs in (from a task or from the flow itself), or None outside one."""
    task_run = TaskRunContext.get()
    if task_run is not None and task_run.task_run.flow_run_id is not None:
        return str(task_run.task_run.flow_run_id)
    flow_run = FlowRunContext.get()
    if flow_run is not None and flow_run.flow_run is not None:
        return str(flow_run.flow_run.id)
    return None


def flow_run_tag(flow_run_id: str) -> str:
    """The tag that marks a job as submitted by a flow run.

    Example:
        ```python
        jobs = await client.jobs.list(tag=flow_run_tag(str(flow_run.id)))
        ```
    """
    return f"{FLOW_RUN_TAG_PREFIX}{flow_run_id}"


def tagged(spec: JobSpec, flow_run_id: str | None) -> JobSpec:
    """The spec with the flow run's tag added (once), so that the flow run's jobs can be found from any process."""
    if flow_run_id is None or flow_run_tag(flow_run_id) in spec.tags:
        return spec
    return spec.model_copy(update={"tags": [*spec.tags, flow_run_tag(flow_run_id)]})


def submit_key(flow_run_id: str | None, key: str | None = None) -> str | None:
    """What stays the same across the tries of one submit (`AsyncJobs.submit_or_reattach`'s `key`): the flow run,
    and the caller's `key` when it gives one, so that a retried task or a retry of the flow run finds the job it
    started, while the request itself (part of every idempotency key) tells apart two different jobs.

    Task run names and ids are no use here: Prefect gives a task run a new random name and id on each run of the
    flow. Outside a flow run only an explicit `key` makes a submit idempotent.

    Example:
        ```python
        submit_key("0f3e...", None)   # 'prefect-5d41402abc4b2a76b9719d91'
        ```
    """
    if flow_run_id is None and key is None:
        return None
    digest = hashlib.sha256(f"{flow_run_id or ''}\n{key or ''}".encode()).hexdigest()[:24]
    return f"prefect-{digest}"


def run_logger() -> Logger:
    """The Prefect run logger (its lines reach the Prefect UI) or, outside a run, the `jobnode.prefect` logger."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("jobnode.prefect")


def in_run() -> bool:
    """Whether this code runs inside a Prefect flow or task run (artifacts need one to belong to)."""
    return TaskRunContext.get() is not None or FlowRunContext.get() is not None


def artifact_key(kind: str, job_id: str) -> str:
    """A Prefect artifact key for one job (keys allow only lowercase letters, digits and dashes)."""
    return re.sub(r"[^a-z0-9-]+", "-", f"jobnode-{kind}-{job_id}".lower()).strip("-")
