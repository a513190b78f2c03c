"""Submit or reattach: the job a caller that may run again should wait for, the one it started or a new one.

A caller that may run more than once for the same piece of work (a retried Airflow task or Prefect task, a retried
Prefect flow run, a worker that crashed) gives its submits a stable `key`. Each job is then created under an
idempotency key made of that key, a digest of the request and a generation number (`key-request-generation`):

- the same request gets the job of its current generation back: a job that still runs is reattached (a retry after
  a crash waits for the job it started), one that succeeded is not run again;
- a job that failed, was cancelled or timed out belonged to a try of its own, so the next generation starts a new
  job (a retry after a failure starts over); with `retry_from_failure`, where the platform can resubmit, the new job
  runs only the failed items of the one before (`jobs.resubmit_failed`);
- a changed request has keys of its own, so it is a new job;
- a key whose job was deleted cannot be used again, so the next generation is used.

Creating and recording are one step: a caller that dies right after the job was created finds it again by its key,
so there is no window in which a crash loses the job. On a platform without idempotency keys a key cannot find
anything, and each call creates a job (a caller then needs its own record of the job, as Airflow's task state
store is).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from jobnode.core.errors import Conflict, JobnodeError
from jobnode.core.models import Job, JobSpec, JobState

if TYPE_CHECKING:
    from jobnode.client._async import AsyncJobs
    from jobnode.core.backend import Capabilities

log = logging.getLogger("jobnode.client")

#: generations one call walks through before giving up (each failed try of the caller uses one)
MAX_GENERATIONS = 100
#: the tag the platform puts on a job that re-runs another job's failures (see `AsyncJobs.resubmit_failed`)
RESUBMIT_TAG = "resubmit-of:"

How = Literal["created", "resubmitted", "succeeded"]


def request_digest(spec: JobSpec) -> str:
    """A short digest of a request: the same for the same job request, whatever the order of its parameters.

    Example:
        ```python
        request_digest(JobSpec(step="identity", input=ItemsInput(items=[1])))   # 'c0ffee12ab34'
        ```
    """
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def idempotency_key(key: str, request: str, generation: int) -> str:
    """The idempotency key of one generation of one request under the caller's `key`."""
    return f"{key}-{request}-{generation}"


@dataclass(frozen=True)
class Attached:
    """The job a caller should wait for.

    Attributes:
        job: the job, as it was when found or created.
        how: `created` (a new job, or the running job of this generation found again by its key), `resubmitted`
            (a new job over the failed items of the job before) or `succeeded` (the job of this generation has
            succeeded already: it is not run again).
        generation: the generation of its idempotency key.
        request: the digest of the request (`request_digest`).
        jobs: every job this call found or started, oldest first (earlier tries' jobs included).
    """

    job: Job
    how: How
    generation: int
    request: str
    jobs: tuple[str, ...]


async def submit_or_reattach(
    jobs: AsyncJobs,
    capabilities: Capabilities,
    spec: JobSpec,
    *,
    key: str | None,
    generation: int,
    after: Job | None,
    retry_from_failure: bool,
) -> Attached:
    """The job to wait for (see `AsyncJobs.submit_or_reattach`)."""
    request = request_digest(spec)
    if key is None:
        job = await jobs.create(spec)
        return Attached(job, "created", generation, request, (job.id,))
    found: list[str] = []
    previous = after
    for gen in range(generation, generation + MAX_GENERATIONS):
        ikey = idempotency_key(key, request, gen)
        try:
            job, how = await _submit(jobs, capabilities, spec, ikey, previous if retry_from_failure else None)
        except Conflict as exc:
            # the job of this key was deleted: the key cannot be used again
            log.warning("idempotency key %s cannot be used again (%s); trying the next generation", ikey, exc.message)
            continue
        found.append(job.id)
        if job.state is JobState.SUCCEEDED:
            return Attached(job, "succeeded", gen, request, tuple(found))
        if job.is_terminal and capabilities.idempotency:
            # the key found a job that has ended: it was an earlier try's
            log.info("job %s of an earlier try ended %s; starting a new one", job.id, job.state.value)
            previous = job
            continue
        return Attached(job, how, gen, request, tuple(found))
    raise JobnodeError(
        f"the idempotency keys of {MAX_GENERATIONS} generations from {idempotency_key(key, request, generation)} "
        "are all used up; submit under a new key"
    )


async def _submit(
    jobs: AsyncJobs, capabilities: Capabilities, spec: JobSpec, ikey: str, failed: Job | None
) -> tuple[Job, How]:
    """Create the job of one generation: a resubmission of the failed job before it where asked and possible."""
    if failed is not None and failed.state is JobState.FAILED and capabilities.resubmit:
        try:
            return await jobs.resubmit_failed(failed.id, idempotency_key=ikey), "resubmitted"
        except Conflict as exc:
            if exc.code != "nothing_to_resubmit":
                raise
            log.info("job %s has no failed items to run again; running the whole request again", failed.id)
    return await jobs.create(spec, idempotency_key=ikey), "created"


def resubmitted_from(job: Job) -> list[str]:
    """The jobs whose failures `job` runs again, oldest first (from its `resubmit-of:` tags); none for a job that
    is not a resubmission."""
    return [tag.removeprefix(RESUBMIT_TAG) for tag in job.tags if tag.startswith(RESUBMIT_TAG)]
