"""Finding the job a task started, so that a retried or restarted task waits for it instead of starting another.

Two records, each enough on its own:

- the task state store (Airflow 3.3 keeps it per DAG run, task and map index, across tries) holds the current job,
  its generation and every job the task started;
- each job is created with an idempotency key derived from the DAG, the run, the task, the map index and a
  generation number, but not the try number: creating again with the same key returns the same job.

A task looks at the job it knows of (from the store, or by creating with the key of generation 0, 1, ...): a job
that still runs is waited for, one that succeeded is not run again, and one that failed, was cancelled or timed out
was a try of its own, so the next generation starts a new job. A crash between creating a job and recording it
loses nothing: the key finds the job again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from jobnode.client import Client
from jobnode.core.errors import Conflict, JobnodeError, NotFound
from jobnode.core.models import Job, JobSpec, JobState

log = logging.getLogger("jobnode.airflow")

#: the task state store key jobnode keeps its record under
STATE_KEY = "jobnode.job"
#: generations tried before giving up (each failed try of a task uses one)
MAX_GENERATIONS = 1000


class StateStore(Protocol):
    """What jobnode uses of Airflow's `task_state_store` accessor."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def base_key(dag_id: str, run_id: str, task_id: str, map_index: int, *extra: str) -> str:
    """The stem of a task instance's idempotency keys: the same for every try of it, and short enough for any
    platform's header (DAG and run ids may be long).

    Example:
        ```python
        base_key("nightly", "manual__2026-01-01", "score", -1)   # 'airflow-3f0c…'
        ```
    """
    raw = "\x1f".join([dag_id, run_id, task_id, str(map_index), *extra])
    return "airflow-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def idempotency_key(base: str, generation: int) -> str:
    return f"{base}-{generation}"


@dataclass
class Attached:
    """The job a task waits for.

    Attributes:
        job: the job, as last seen.
        how: `created` (a job of this generation: new, or found again by its key), `reattached` (the job an earlier
            try recorded, still running) or `succeeded` (an earlier try's job that already succeeded).
        generation: the generation of its idempotency key.
        jobs: every job the task started, oldest first (the cleanup deletes them all).
    """

    job: Job
    how: Literal["created", "reattached", "succeeded"]
    generation: int
    jobs: list[str] = field(default_factory=list)


def attach(client: Client, spec: JobSpec, *, base: str, store: StateStore | None = None) -> Attached:
    """The job this task instance should wait for: the one it started, or a new one.

    Raises:
        JobnodeError: every generation's key is taken (the task failed `MAX_GENERATIONS` times).
    """
    saved = _read(store)
    jobs: list[str] = list(saved.get("jobs", []))
    generation = int(saved.get("generation", 0))
    if saved.get("job_id"):
        try:
            job = client.jobs.get(saved["job_id"])
        except NotFound:
            log.info("job %s of an earlier try no longer exists; starting a new one", saved["job_id"])
        else:
            if not job.is_terminal:
                return _record(store, Attached(job, "reattached", generation, jobs))
            if job.state is JobState.SUCCEEDED:
                return _record(store, Attached(job, "succeeded", generation, jobs))
            log.info("job %s of an earlier try ended %s; starting a new one", job.id, job.state.value)
        generation += 1
    for gen in range(generation, generation + MAX_GENERATIONS):
        key = idempotency_key(base, gen)
        try:
            job = client.jobs.create(spec, idempotency_key=key)
        except Conflict as exc:
            # the key's job was deleted, or the task's request changed since that job was created
            log.warning("idempotency key %s cannot be used again (%s); trying the next one", key, exc.message)
            continue
        if job.id not in jobs:
            jobs.append(job.id)
        if job.is_terminal and job.state is not JobState.SUCCEEDED:
            log.info("job %s of an earlier try ended %s; starting a new one", job.id, job.state.value)
            continue
        how: Literal["created", "succeeded"] = "succeeded" if job.state is JobState.SUCCEEDED else "created"
        return _record(store, Attached(job, how, gen, jobs))
    raise JobnodeError(
        f"this task has used {MAX_GENERATIONS} idempotency keys from {idempotency_key(base, generation)}; "
        "clear its task state store or set reattach=False"
    )


def _read(store: StateStore | None) -> dict[str, Any]:
    if store is None:
        return {}
    try:
        saved = store.get(STATE_KEY)
    except Exception as exc:
        # the idempotency key finds the job anyway: a store that cannot be read only costs requests
        log.warning("cannot read the task state store (%s); finding the job by its idempotency key", exc)
        return {}
    return saved if isinstance(saved, dict) else {}


def _record(store: StateStore | None, attached: Attached) -> Attached:
    if attached.job.id not in attached.jobs:
        attached.jobs.append(attached.job.id)
    if store is not None:
        value = {"job_id": attached.job.id, "generation": attached.generation, "jobs": attached.jobs}
        try:
            store.set(STATE_KEY, value)
        except Exception as exc:
            log.warning("cannot write the task state store (%s); a retry finds the job by its key", exc)
    return attached
