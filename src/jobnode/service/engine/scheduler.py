"""The scheduler: one thread whose turns record what finished, start scheduled jobs, claim batches for the pools,
stop jobs past their time, and finish jobs with nothing left to run.

Each turn records finished batches and deliveries (many in one transaction), applies start times, hands pending
batches to the pools within each job's `workers` and the pools' capacity, then ends expired and finished jobs in a
durable transaction. API threads create, cancel and delete jobs through the same store; conditional updates keep a
cancelled job from being finished afterwards.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time

from jobnode.core.models import JobState
from jobnode.service.changes import ChangeHub
from jobnode.service.engine.active import ActiveJob, ActiveJobs
from jobnode.service.engine.deliveries import Deliveries
from jobnode.service.engine.ending import Ending
from jobnode.service.engine.executors import Executors
from jobnode.service.engine.outcomes import Outcomes
from jobnode.service.runner import BatchOutcome
from jobnode.service.store import Store

log = logging.getLogger("jobnode.engine")

#: a batch handed to a pool: (job, idx, first item, items as JSON, attempt)
Dispatch = tuple[ActiveJob, int, int, str, int]


class Scheduler:
    def __init__(
        self,
        store: Store,
        active: ActiveJobs,
        changes: ChangeHub,
        *,
        outcomes: Outcomes,
        deliveries: Deliveries,
        ending: Ending,
        executors: Executors,
        tick: float,
    ) -> None:
        self._store = store
        self._active = active
        self._changes = changes
        self._outcomes = outcomes
        self._deliveries = deliveries
        self._ending = ending
        self._executors = executors
        self._tick = tick
        self._finished: queue.SimpleQueue[BatchOutcome] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def report(self, outcome: BatchOutcome) -> None:
        """A batch ended (called from the pools' threads)."""
        self._finished.put(outcome)
        self._active.wake()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="jobnode-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._active.wake()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._active.sleep(self._tick)
            try:
                self.turn()
            except Exception:  # the loop must survive anything one turn does
                log.exception("scheduler turn failed")
                time.sleep(self._tick)

    def turn(self) -> None:
        changed: set[str] = set()
        outcomes: list[BatchOutcome] = []
        while True:
            try:
                outcomes.append(self._finished.get_nowait())
            except queue.Empty:
                break
        delivered = self._deliveries.drain()
        now = time.time()
        dispatch: list[Dispatch] = []
        if not self._active.ids() and not outcomes and not delivered:
            return  # nothing to record or run: no write transaction
        with self._store.write() as conn:
            for outcome in outcomes:
                self._outcomes.record(conn, outcome, changed)
            for delivery in delivered:
                self._deliveries.record(conn, delivery, changed)
            self._advance_schedule(conn, now, changed)
            self._claim(conn, now, dispatch, changed)
        expired = self._expired(now)
        finished = self._finished_jobs()
        if expired or finished:
            with self._store.write(durable=True) as conn:
                for job_id, reason in expired:
                    self._ending.stop(conn, job_id, JobState.TIMED_OUT, reason, changed)
                for job in finished:
                    self._ending.finish(conn, job, changed)
        for job, idx, first_item, items_json, attempt in dispatch:
            self._executors.submit(job, idx, first_item, items_json, attempt)
        if changed:
            self._changes.notify(changed)

    def _advance_schedule(self, conn: sqlite3.Connection, now: float, changed: set[str]) -> None:
        due = [j for j in self._active.all() if j.state is JobState.SCHEDULED and (j.start_at or 0) <= now]
        for job in due:
            self._store.jobs.mark_queued(conn, job.id, now)
            self._store.events.add(conn, job.id, "queued", JobState.QUEUED.value, "start time reached", at=now)
            job.state = JobState.QUEUED
            changed.add(job.id)

    def _expired(self, now: float) -> list[tuple[str, str]]:
        out = []
        for job in self._active.all():
            if job.stop_at is not None and now >= job.stop_at:
                out.append((job.id, "stop time reached before the job finished"))
            elif job.timeout is not None and job.started_at is not None and now >= job.started_at + job.timeout:
                out.append((job.id, f"timeout of {job.timeout:g}s reached before the job finished"))
        return out

    def _finished_jobs(self) -> list[ActiveJob]:
        return [
            j
            for j in self._active.all()
            if j.state is JobState.RUNNING and not j.pending and not j.inflight and not j.delivering
        ]

    def _claim(self, conn: sqlite3.Connection, now: float, dispatch: list[Dispatch], changed: set[str]) -> None:
        store = self._store
        jobs = [j for j in self._active.all() if j.state in (JobState.QUEUED, JobState.RUNNING)]
        for job in jobs:
            if job.state is JobState.QUEUED and not job.pending and not job.inflight:
                job.state = JobState.RUNNING  # an empty job: finished on this turn
                job.started_at = now
                self._mark_running(conn, job, now)
                changed.add(job.id)
                continue
            executor = job.step.executor
            while job.pending and len(job.inflight) < job.workers and self._executors.capacity(executor) > 0:
                idx = job.pending.popleft()
                first_item, items_json, attempts = store.batches.claim(conn, job.id, idx)
                job.inflight.add(idx)
                self._executors.claimed(executor)
                dispatch.append((job, idx, first_item, items_json, attempts))
                if job.state is JobState.QUEUED:
                    job.state = JobState.RUNNING
                    job.started_at = now
                    self._mark_running(conn, job, now)
                store.jobs.count_claimed(conn, job.id)
                changed.add(job.id)

    def _mark_running(self, conn: sqlite3.Connection, job: ActiveJob, now: float) -> None:
        self._store.jobs.mark_running(conn, job.id, now)
        self._store.events.add(conn, job.id, JobState.RUNNING.value, JobState.RUNNING.value, at=now)
