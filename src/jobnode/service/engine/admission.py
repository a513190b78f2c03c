"""Admitting jobs: storing a new job and its batches (idempotently), taking stored jobs into the scheduler's
memory, and recovering the jobs that had not ended when the service stopped."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from jobnode.core.models import JobSpec, JobState, LogLevel
from jobnode.service.engine.active import ActiveJob, ActiveJobs, new_id
from jobnode.service.engine.deliveries import Deliveries
from jobnode.service.engine.ending import Ending
from jobnode.service.engine.outcomes import Outcomes
from jobnode.service.steps import Step, StepRegistry
from jobnode.service.store import NewJobRow, Store, dumps, micros

ERROR = LogLevel.ERROR.rank
#: one batch of a new job: (first item, number of items, the items as JSON)
EncodedBatch = tuple[int, int, str]


class EngineConflict(Exception):
    """The request conflicts with the job's state (the API answers 409)."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class NewJob:
    """A validated, resolved job ready to be stored: its request (and that request as stored JSON) and its batches."""

    spec: JobSpec
    spec_json: str
    step: Step
    batches: Sequence[EncodedBatch]
    input_artifacts: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    idempotency_key: str | None = None
    request_hash: str | None = None

    @property
    def items_total(self) -> int:
        return sum(size for _, size, _ in self.batches) + len(self.rejected)


class Admission:
    """Creates jobs and admits them into the scheduler's memory."""

    def __init__(
        self,
        store: Store,
        active: ActiveJobs,
        registry: StepRegistry,
        *,
        ending: Ending,
        outcomes: Outcomes,
        deliveries: Deliveries,
    ) -> None:
        self._store = store
        self._active = active
        self._registry = registry
        self._ending = ending
        self._outcomes = outcomes
        self._deliveries = deliveries

    def create(self, new: NewJob) -> tuple[str, bool]:
        """Store a job and its batches durably; returns (job id, created). An idempotency key that was already
        used returns the job it created."""
        store = self._store
        spec = new.spec
        now = time.time()
        job_id = new_id("job")
        start_at = spec.start_at.timestamp() if spec.start_at else None
        state = JobState.SCHEDULED if start_at and start_at > now else JobState.QUEUED
        with store.write(durable=True) as conn:
            if new.idempotency_key:
                existing = store.jobs.by_key(conn, new.idempotency_key)
                if existing is None and (deleted := store.jobs.deleted_with_key(conn, new.idempotency_key)):
                    raise EngineConflict(
                        f"the job created with this Idempotency-Key ({deleted}) was deleted; use a new key",
                        {"field": "Idempotency-Key", "job_id": deleted},
                    )
                if existing is not None:
                    if new.request_hash and existing["request_hash"] not in (None, new.request_hash):
                        raise EngineConflict(
                            "this Idempotency-Key was used for a different request; use a new key for a new job",
                            {"field": "Idempotency-Key", "job_id": existing["id"]},
                        )
                    return existing["id"], False
            row = store.jobs.insert(
                conn,
                NewJobRow(
                    id=job_id,
                    name=spec.name,
                    state=state,
                    message="waiting for its start time" if state is JobState.SCHEDULED else JobState.QUEUED.value,
                    step=new.step.name,
                    step_version=new.step.version,
                    spec=new.spec_json,
                    tags=dumps(spec.tags),
                    parent_id=spec.parent_id,
                    idempotency_key=new.idempotency_key,
                    request_hash=new.request_hash,
                    created_at=now,
                    start_at=start_at,
                    stop_at=spec.stop_at.timestamp() if spec.stop_at else None,
                    timeout=spec.timeout,
                    items_total=new.items_total,
                    items_failed=len(new.rejected),
                    batches_total=len(new.batches),
                ),
            )
            if new.rejected:
                self._reject(conn, job_id, new.rejected, now)
            store.batches.insert(conn, job_id, [(b, *batch) for b, batch in enumerate(new.batches)])
            if new.input_artifacts:  # checked in this transaction: a deletion cannot slip in after resolving
                if missing := store.artifacts.missing(conn, new.input_artifacts):
                    raise EngineConflict(
                        f"input artifact(s) {', '.join(missing)} were deleted meanwhile; name existing ones",
                        {"field": "input.artifacts", "missing": missing},
                    )
                store.artifacts.add_consumer(conn, job_id, new.input_artifacts)
            store.events.add(conn, job_id, "created", JobState.CREATED.value, at=now)
            store.events.add(conn, job_id, state.value, state.value, at=now)
        self.admit(row)
        return job_id, True

    def _reject(self, conn: sqlite3.Connection, job_id: str, rejected: list[tuple[str, str]], now: float) -> None:
        """Items that could not even be read (a bad line of a delimited file) fail alone, at creation."""
        at = micros(now)
        self._store.logs.add(
            conn, [(job_id, at, ERROR, "ItemFailed", label, "Rejected", None, why) for label, why in rejected]
        )
        self._store.errors.add(conn, [(job_id, now, label, None, None, why) for label, why in rejected])

    def admit(self, row: sqlite3.Row) -> ActiveJob:
        """Take a stored job that has not ended into the scheduler's memory."""
        spec = JobSpec.model_validate_json(row["spec"])
        step = self._registry.get(row["step"], row["step_version"])
        params: BaseModel = step.params_model.model_validate(spec.params)
        job = ActiveJob(
            id=row["id"],
            state=JobState(row["state"]),
            step=step,
            params=params,
            params_json=json.dumps(params.model_dump(mode="json")),
            workers=spec.workers,
            max_attempts=spec.max_attempts,
            max_item_failures=spec.max_item_failures,
            start_at=row["start_at"],
            stop_at=row["stop_at"],
            timeout=row["timeout"],
            started_at=row["started_at"],
            pending=deque(self._store.batches.pending(row["id"])),
            name=row["name"],
            webhook=spec.webhook,
        )
        self._active.add(job)
        return job

    def recover(self) -> None:
        """After a restart, every job that had not ended goes on.

        A batch that was running runs again as a new attempt (its attempt was counted when it started), unless that
        was its last attempt: then it is dead-lettered, so that a batch that kills the service (a native crash,
        `os._exit`) cannot bring it down on every restart.
        """
        store = self._store
        rows = store.jobs.active_rows()
        max_attempts = {r["id"]: JobSpec.model_validate_json(r["spec"]).max_attempts for r in rows}
        now = time.time()
        with store.write(durable=True) as conn:
            interrupted = store.batches.interrupted(conn)
            store.jobs.clear_running(conn)
            for job_id, idx, attempts in interrupted:
                limit = max_attempts.get(job_id, attempts)
                if attempts < limit:
                    store.batches.requeue(conn, job_id, idx)
                    continue
                error = (
                    f"the service stopped while attempt {attempts} of {limit} of this batch ran (did the batch "
                    "crash it?); no attempt is left"
                )
                store.errors.add(conn, [(job_id, now, None, idx, attempts, error)])
                store.logs.add(
                    conn,
                    [
                        (
                            job_id,
                            micros(now),
                            LogLevel.ERROR.rank,
                            "BatchFailed",
                            f"batch {idx}",
                            "DeadLettered",
                            None,
                            error,
                        )
                    ],
                )
                self._outcomes.dead_letter(conn, job_id, idx, error, attempts, now, running=False)
        for row in rows:
            try:
                job = self.admit(row)
            except LookupError as exc:
                changed: set[str] = set()
                with store.write(durable=True) as conn:
                    self._ending.stop(conn, row["id"], JobState.FAILED, f"cannot resume: {exc}", changed)
                continue
            if job.webhook is not None:  # before the scheduler starts: no batch of it is being recorded meanwhile
                self._deliveries.resume(job)
