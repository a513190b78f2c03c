"""The local job engine: admits jobs, runs their batches, records results, enforces time limits, recovers.

One scheduler thread owns the run loop. Each turn it records finished batches (many in one transaction), applies
start/stop windows and timeouts, hands pending batches to the thread pool or the process pool within each job's
`workers` and the pools' capacity, and finishes jobs that have nothing left to run. API threads create, cancel and
delete jobs through the same store; conditional updates keep a cancelled job from being finished afterwards.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jobnode.core.lineage import plan_artifact_deletion, plan_deletion
from jobnode.core.models import DeletePlan, JobSpec, Webhook
from jobnode.service.changes import ChangeHub
from jobnode.service.delivery import Deliverer, DeliveryOutcome, batch_delivery
from jobnode.service.inputs import InputResolver
from jobnode.service.lineage import load_graph
from jobnode.service.runner import BatchOutcome, encode_json, execute_batch, init_worker, item_label, run_in_process
from jobnode.service.steps import REGISTRY, Step, StepRegistry, load_step_modules
from jobnode.service.store import LEVELS, Store, dumps, micros

log = logging.getLogger("jobnode.engine")

ACTIVE = ("created", "scheduled", "queued", "running")
ACTIVE_SQL = "('created', 'scheduled', 'queued', 'running')"
INFO, ERROR, WARNING = LEVELS["info"], LEVELS["error"], LEVELS["warning"]


class EngineConflict(Exception):
    """The request conflicts with the job's state (the API answers 409)."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass
class ActiveJob:
    """What the scheduler keeps in memory about a job that is not finished."""

    id: str
    state: str
    step: Step
    params: BaseModel
    params_json: str
    workers: int
    max_attempts: int
    max_item_failures: int
    start_at: float | None
    stop_at: float | None
    timeout: float | None
    started_at: float | None
    pending: deque[int] = field(default_factory=deque)
    inflight: set[int] = field(default_factory=set)
    name: str = ""
    webhook: Webhook | None = None
    delivering: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class NewJob:
    """A validated, resolved job ready to be stored."""

    spec: JobSpec
    step: Step
    params: BaseModel
    items: list[Any]
    input_artifacts: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    idempotency_key: str | None = None
    request_hash: str | None = None


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class Engine:
    """Runs jobs stored in a data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        step_modules: Sequence[str] = (),
        registry: StepRegistry = REGISTRY,
        threads: int = 32,
        processes: int | None = None,
        tick: float = 0.25,
        allowed_roots: Sequence[Path] = (),
    ) -> None:
        """`allowed_roots`: the directories local file inputs may come from (default: the data directory and the
        current directory)."""
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir = data_dir / "artifacts"
        self.artifacts_dir.mkdir(exist_ok=True)
        self.cancel_dir = data_dir / "cancelled"
        self.cancel_dir.mkdir(exist_ok=True)
        self.store = Store(data_dir / "jobnode.db")
        self.inputs = InputResolver(self.store, roots=list(allowed_roots) or [data_dir, Path.cwd()])
        self.registry = registry
        self.step_modules = load_step_modules(step_modules)
        self.changes = ChangeHub()
        self._threads = threads
        self._processes = processes or os.cpu_count() or 2
        self._thread_pool: ThreadPoolExecutor | None = None
        self._process_pool: ProcessPoolExecutor | None = None
        self._tick = tick
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._outcomes: queue.SimpleQueue[BatchOutcome] = queue.SimpleQueue()
        self._deliveries: queue.SimpleQueue[DeliveryOutcome] = queue.SimpleQueue()
        self._deliverer: Deliverer | None = None
        self._active: dict[str, ActiveJob] = {}
        self._cancelled: set[str] = set()
        self._inflight = {"thread": 0, "process": 0}
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._recover()
        self._thread = threading.Thread(target=self._run, name="jobnode-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self._thread_pool:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)
        if self._process_pool:
            self._process_pool.shutdown(wait=False, cancel_futures=True)
        if self._deliverer:
            self._deliverer.close()
        self.store.close()

    def _recover(self) -> None:
        """After a restart: batches that were in flight run again (their attempt was already counted)."""
        with self.store.write(durable=True) as conn:
            conn.execute(
                f"UPDATE batches SET state = 'pending' WHERE state = 'running' AND job_id IN "
                f"(SELECT id FROM jobs WHERE state IN {ACTIVE_SQL})"
            )
            conn.execute(f"UPDATE jobs SET batches_running = 0 WHERE state IN {ACTIVE_SQL}")
        for row in self.store.active_job_rows():
            try:
                self._admit(row)
            except LookupError as exc:
                with self.store.write(durable=True) as conn:
                    self._end(conn, row["id"], "failed", f"cannot resume: {exc}", set())

    def _admit(self, row: sqlite3.Row) -> None:
        spec = JobSpec.model_validate_json(row["spec"])
        step = self.registry.get(row["step"], row["step_version"])
        params = step.params_model.model_validate(spec.params)
        job = ActiveJob(
            id=row["id"],
            state=row["state"],
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
            pending=deque(self.store.pending_batches(row["id"])),
            name=row["name"],
            webhook=spec.webhook,
        )
        with self._lock:
            self._active[job.id] = job
        if job.webhook is not None:  # after a restart: deliver what was processed but not delivered yet
            for idx, first_item, items_json, results_json in self.store.undelivered_batches(job.id):
                items = json.loads(items_json)
                labels = [item_label(item, first_item + i) for i, item in enumerate(items)]
                self._deliver(job, idx, first_item, labels, results_json)
        self._wake.set()

    # -- requests from the API ----------------------------------------------------------------------------------

    def create(self, new: NewJob) -> tuple[str, bool]:
        """Store a job and its batches durably; returns (job id, created). An idempotency key that was already
        used returns the job it created."""
        spec = new.spec
        now = time.time()
        job_id = new_id("job")
        start_at = spec.start_at.timestamp() if spec.start_at else None
        state = "scheduled" if start_at and start_at > now else "queued"
        size = spec.batch_size
        batches = [
            (job_id, b, b * size, len(chunk), dumps(chunk))
            for b, chunk in enumerate(new.items[i : i + size] for i in range(0, len(new.items), size))
        ]
        with self.store.write(durable=True) as conn:
            if new.idempotency_key:
                existing = conn.execute(
                    "SELECT id, request_hash FROM jobs WHERE idempotency_key = ?", (new.idempotency_key,)
                ).fetchone()
                if existing is None:
                    tomb = conn.execute(
                        "SELECT job_id FROM tombstones WHERE json_extract(what, '$.idempotency_key') = ?",
                        (new.idempotency_key,),
                    ).fetchone()
                    if tomb is not None:
                        raise EngineConflict(
                            f"the job created with this Idempotency-Key ({tomb[0]}) was deleted; use a new key",
                            {"field": "Idempotency-Key", "job_id": tomb[0]},
                        )
                if existing is not None:
                    if new.request_hash and existing["request_hash"] not in (None, new.request_hash):
                        raise EngineConflict(
                            "this Idempotency-Key was used for a different request; use a new key for a new job",
                            {"field": "Idempotency-Key", "job_id": existing["id"]},
                        )
                    return existing["id"], False
            conn.execute(
                "INSERT INTO jobs (id, name, state, message, step, step_version, spec, tags, parent_id, "
                "idempotency_key, request_hash, created_at, updated_at, start_at, stop_at, timeout, items_total) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    spec.name,
                    state,
                    "waiting for its start time" if state == "scheduled" else "queued",
                    new.step.name,
                    new.step.version,
                    spec.model_dump_json(),
                    dumps(spec.tags),
                    spec.parent_id,
                    new.idempotency_key,
                    new.request_hash,
                    now,
                    now,
                    start_at,
                    spec.stop_at.timestamp() if spec.stop_at else None,
                    spec.timeout,
                    len(new.items) + len(new.rejected),
                ),
            )
            if new.rejected:
                self._reject(conn, job_id, new.rejected, now)
            conn.execute("UPDATE jobs SET batches_total = ? WHERE id = ?", (len(batches), job_id))
            conn.executemany(
                "INSERT INTO batches (job_id, idx, first_item, size, items) VALUES (?, ?, ?, ?, ?)", batches
            )
            if new.input_artifacts:  # checked in this transaction: a deletion cannot slip in after resolving
                marks = ",".join("?" * len(new.input_artifacts))
                found = {
                    r[0] for r in conn.execute(f"SELECT id FROM artifacts WHERE id IN ({marks})", new.input_artifacts)
                }
                if missing := [a for a in new.input_artifacts if a not in found]:
                    raise EngineConflict(
                        f"input artifact(s) {', '.join(missing)} were deleted meanwhile; name existing ones",
                        {"field": "input.artifacts", "missing": missing},
                    )
            conn.executemany(
                "INSERT OR IGNORE INTO consumers (artifact_id, job_id) VALUES (?, ?)",
                [(a, job_id) for a in new.input_artifacts],
            )
            Store.insert_event(conn, job_id, "created", "created", at=now)
            Store.insert_event(conn, job_id, state, state, at=now)
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        self._admit(row)
        self._notify({job_id})
        return job_id, True

    @staticmethod
    def _reject(conn: sqlite3.Connection, job_id: str, rejected: list[tuple[str, str]], now: float) -> None:
        """Items that could not even be read (a bad line of a delimited file) fail alone, at creation."""
        at = micros(now)
        Store.insert_logs(
            conn, [(job_id, at, ERROR, "ItemFailed", label, "Rejected", None, why) for label, why in rejected]
        )
        Store.insert_errors(conn, [(job_id, now, label, None, None, why) for label, why in rejected])
        conn.execute("UPDATE jobs SET items_failed = ? WHERE id = ?", (len(rejected), job_id))

    def cancel(self, job_id: str, reason: str = "cancelled by request") -> bool:
        """Cancel a job; cancelling a finished job changes nothing. Returns whether it was cancelled now."""
        changed: set[str] = set()
        with self.store.write(durable=True) as conn:
            ended = self._end(conn, job_id, "cancelled", reason, changed)
        self._notify(changed)
        return ended

    def delete(
        self,
        job_id: str,
        *,
        delete_outputs: bool = False,
        delete_subjobs: bool = False,
        dry_run: bool = False,
        deleted_by: str | None = None,
    ) -> DeletePlan:
        """Plan deleting a job under the lineage rules and, unless refused or a dry run, carry the plan out.

        Planning and deleting share one transaction, so no job can start reading an output in between.
        """
        with self.store.write(durable=True) as conn:
            plan = plan_deletion(
                load_graph(conn, [job_id]),
                [job_id],
                delete_outputs=delete_outputs,
                delete_subjobs=delete_subjobs,
                dry_run=dry_run,
            )
            paths = self._carry_out(conn, plan, deleted_by) if plan.allowed and not dry_run else []
        self._unlink(paths, plan)
        return plan

    def delete_artifact(self, artifact_id: str, *, dry_run: bool = False, deleted_by: str | None = None) -> DeletePlan:
        """Delete an output artifact on its own, unless a job still reads it."""
        with self.store.write(durable=True) as conn:
            plan = plan_artifact_deletion(load_graph(conn, artifact_ids=[artifact_id]), [artifact_id], dry_run=dry_run)
            paths = self._carry_out(conn, plan, deleted_by) if plan.allowed and not dry_run else []
        self._unlink(paths, plan)
        return plan

    def _carry_out(self, conn: sqlite3.Connection, plan: DeletePlan, deleted_by: str | None) -> list[Path]:
        """Delete the rows of an allowed plan, in its order; returns the artifact files to remove after commit.

        A job's tombstone records who deleted it, when, and what went with it; its events stay.
        """
        paths: list[Path] = []
        gone: dict[str, list[str]] = {}
        for step in plan.steps:
            if step.action == "delete_artifact":
                art = conn.execute("SELECT job_id, path FROM artifacts WHERE id = ?", (step.id,)).fetchone()
                if art is None:
                    continue
                paths.append(Path(art["path"]))
                gone.setdefault(art["job_id"], []).append(step.id)
                conn.execute("DELETE FROM artifacts WHERE id = ?", (step.id,))
                conn.execute("DELETE FROM consumers WHERE artifact_id = ?", (step.id,))
                Store.insert_event(
                    conn, art["job_id"], "artifact_deleted", None, f"artifact {step.id} deleted", {"artifact": step.id}
                )
                continue
            job_id = step.id
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                continue
            what = {
                "name": row["name"],
                "state": row["state"],
                "step": row["step"],
                "parent_id": row["parent_id"],
                "idempotency_key": row["idempotency_key"],
                "artifacts": gone.get(job_id, []),
                "plan_targets": plan.targets,
            }
            for table in ("jobs", "batches", "logs", "errors", "dead_letters"):
                column = "id" if table == "jobs" else "job_id"
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (job_id,))
            conn.execute("DELETE FROM consumers WHERE job_id = ?", (job_id,))
            conn.execute(
                "INSERT OR REPLACE INTO tombstones (job_id, deleted_at, deleted_by, what) VALUES (?, ?, ?, ?)",
                (job_id, time.time(), deleted_by, dumps(what)),
            )
            Store.insert_event(
                conn,
                job_id,
                "deleted",
                None,
                f"deleted by {deleted_by or 'a client'}",
                {"artifacts": what["artifacts"], "plan_targets": plan.targets},
            )
        return paths

    def _unlink(self, paths: list[Path], plan: DeletePlan) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
        if plan.allowed and not plan.dry_run:
            for step in plan.steps:
                if step.action == "delete_job":
                    (self.cancel_dir / step.id).unlink(missing_ok=True)

    # -- the run loop -------------------------------------------------------------------------------------------

    def _notify(self, changed: set[str]) -> None:
        if changed:
            self.changes.notify(changed)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            try:
                self._turn()
            except Exception:  # the loop must survive anything one turn does
                log.exception("scheduler turn failed")
                time.sleep(self._tick)

    def _turn(self) -> None:
        changed: set[str] = set()
        outcomes: list[BatchOutcome] = []
        while True:
            try:
                outcomes.append(self._outcomes.get_nowait())
            except queue.Empty:
                break
        delivered: list[DeliveryOutcome] = []
        while True:
            try:
                delivered.append(self._deliveries.get_nowait())
            except queue.Empty:
                break
        now = time.time()
        dispatch: list[tuple[ActiveJob, int, int, str, int]] = []
        with self._lock:
            idle = not self._active
        if idle and not outcomes and not delivered:
            return  # nothing to record or run: no write transaction
        with self.store.write() as conn:
            for outcome in outcomes:
                self._record(conn, outcome, changed)
            for delivery in delivered:
                self._record_delivery(conn, delivery, changed)
            self._advance_schedule(conn, now, changed)
            self._claim(conn, now, dispatch, changed)
        expired = self._expired(now)
        finished = self._finished()
        if expired or finished:
            with self.store.write(durable=True) as conn:
                for job_id, reason in expired:
                    self._end(conn, job_id, "timed_out", reason, changed)
                for job in finished:
                    self._finish(conn, job, changed)
        for job, idx, first_item, items_json, attempt in dispatch:
            self._submit(job, idx, first_item, items_json, attempt)
        self._notify(changed)

    def _advance_schedule(self, conn: sqlite3.Connection, now: float, changed: set[str]) -> None:
        with self._lock:
            due = [j for j in self._active.values() if j.state == "scheduled" and (j.start_at or 0) <= now]
        for job in due:
            conn.execute(
                "UPDATE jobs SET state = 'queued', message = 'queued', updated_at = ? "
                "WHERE id = ? AND state = 'scheduled'",
                (now, job.id),
            )
            Store.insert_event(conn, job.id, "queued", "queued", "start time reached", at=now)
            job.state = "queued"
            changed.add(job.id)

    def _expired(self, now: float) -> list[tuple[str, str]]:
        out = []
        with self._lock:
            for job in self._active.values():
                if job.stop_at is not None and now >= job.stop_at:
                    out.append((job.id, "stop time reached before the job finished"))
                elif job.timeout is not None and job.started_at is not None and now >= job.started_at + job.timeout:
                    out.append((job.id, f"timeout of {job.timeout:g}s reached before the job finished"))
        return out

    def _finished(self) -> list[ActiveJob]:
        with self._lock:
            return [
                j
                for j in self._active.values()
                if j.state == "running" and not j.pending and not j.inflight and not j.delivering
            ]

    def _capacity(self, executor: str) -> int:
        limit = self._threads if executor == "thread" else self._processes * 2
        return limit - self._inflight[executor]

    def _claim(
        self,
        conn: sqlite3.Connection,
        now: float,
        dispatch: list[tuple[ActiveJob, int, int, str, int]],
        changed: set[str],
    ) -> None:
        with self._lock:
            jobs = [j for j in self._active.values() if j.state in ("queued", "running")]
        for job in jobs:
            if job.state == "queued" and not job.pending and not job.inflight:
                job.state = "running"  # an empty job: finished on this turn
                job.started_at = now
                self._mark_started(conn, job, now)
                changed.add(job.id)
                continue
            while job.pending and len(job.inflight) < job.workers and self._capacity(job.step.executor) > 0:
                idx = job.pending.popleft()
                conn.execute(
                    "UPDATE batches SET state = 'running', attempts = attempts + 1 WHERE job_id = ? AND idx = ?",
                    (job.id, idx),
                )
                first_item, items_json, attempts = conn.execute(
                    "SELECT first_item, items, attempts FROM batches WHERE job_id = ? AND idx = ?", (job.id, idx)
                ).fetchone()
                job.inflight.add(idx)
                self._inflight[job.step.executor] += 1
                dispatch.append((job, idx, first_item, items_json, attempts))
                if job.state == "queued":
                    job.state = "running"
                    job.started_at = now
                    self._mark_started(conn, job, now)
                conn.execute("UPDATE jobs SET batches_running = batches_running + 1 WHERE id = ?", (job.id,))
                changed.add(job.id)

    def _mark_started(self, conn: sqlite3.Connection, job: ActiveJob, now: float) -> None:
        conn.execute(
            "UPDATE jobs SET state = 'running', message = 'running', started_at = ?, updated_at = ? WHERE id = ?",
            (now, now, job.id),
        )
        Store.insert_event(conn, job.id, "running", "running", at=now)

    def _submit(self, job: ActiveJob, idx: int, first_item: int, items_json: str, attempt: int) -> None:
        executor = job.step.executor
        try:
            future = self._start(job, idx, first_item, items_json, attempt)
        except BrokenProcessPool as exc:
            self._process_pool = None  # a worker died: the next batch gets a fresh pool
            failed = BatchOutcome(job.id, idx, attempt, first_item, [], 0.0, error=f"worker failed: {exc}")
            self._finished_batch(executor, failed)
            return

        def done(f: Future[BatchOutcome]) -> None:
            try:
                outcome = f.result()
            except BaseException as exc:  # a worker process died, or the pool shut down
                if isinstance(exc, BrokenProcessPool):
                    self._process_pool = None
                outcome = BatchOutcome(job.id, idx, attempt, first_item, [], 0.0, error=f"worker failed: {exc!r}")
            self._finished_batch(executor, outcome)

        future.add_done_callback(done)

    def _finished_batch(self, executor: str, outcome: BatchOutcome) -> None:
        with self._lock:
            self._inflight[executor] -= 1
        self._outcomes.put(outcome)
        self._wake.set()

    # -- webhook delivery ---------------------------------------------------------------------------------------

    def _deliver(self, job: ActiveJob, idx: int, first_item: int, labels: list[str], results_json: str | None) -> None:
        """Send a processed batch's results to the job's webhook; the job ends only once this is settled."""
        assert job.webhook is not None
        delivery = batch_delivery(
            job_id=job.id,
            job_name=job.name,
            batch=idx,
            first_item=first_item,
            labels=labels,
            results=json.loads(results_json) if results_json else [],
            url=job.webhook.url,
            secret=job.webhook.secret,
            max_attempts=job.webhook.max_attempts,
        )
        if delivery is None:
            return  # every item of the batch failed: nothing to deliver
        if self._deliverer is None:
            self._deliverer = Deliverer(self._delivered)
        job.delivering.add(idx)
        job_id = job.id
        self._deliverer.submit(delivery, lambda: job_id in self._cancelled)

    def _delivered(self, outcome: DeliveryOutcome) -> None:
        """Called from delivery threads."""
        self._deliveries.put(outcome)
        self._wake.set()

    def _record_delivery(self, conn: sqlite3.Connection, d: DeliveryOutcome, changed: set[str]) -> None:
        with self._lock:
            job = self._active.get(d.job_id)
            if job is None:
                return  # the job ended meanwhile
            job.delivering.discard(d.batch)
        now = time.time()
        at = micros(now)
        changed.add(job.id)
        count = len(d.labels)
        Store.insert_logs(
            conn,
            [
                (job.id, at, WARNING, "DeliveryRetried", f"batch {d.batch}", "Retrying", None, f"attempt {i}: {error}")
                for i, error in enumerate(d.retried, 1)
            ],
        )
        if d.delivered:
            per_item = d.duration * 1000 / max(1, count)
            Store.insert_logs(
                conn, [(job.id, at, INFO, "ItemDelivered", label, "Delivered", per_item, None) for label in d.labels]
            )
            conn.execute("UPDATE batches SET delivered = 1 WHERE job_id = ? AND idx = ?", (job.id, d.batch))
            conn.execute(
                "UPDATE jobs SET items_delivered = items_delivered + ?, updated_at = ? WHERE id = ?",
                (count, now, job.id),
            )
            return
        message = f"delivery failed after {d.attempts} attempt(s): {d.error}"
        Store.insert_logs(
            conn,
            [(job.id, at, ERROR, "ItemDeliveryFailed", label, "FailedDeliver", None, message) for label in d.labels],
        )
        Store.insert_errors(conn, [(job.id, now, label, d.batch, d.attempts, message) for label in d.labels])
        conn.execute("UPDATE batches SET delivered = 2 WHERE job_id = ? AND idx = ?", (job.id, d.batch))
        conn.execute(
            "UPDATE jobs SET items_failed_delivery = items_failed_delivery + ?, updated_at = ? WHERE id = ?",
            (count, now, job.id),
        )

    def _start(self, job: ActiveJob, idx: int, first_item: int, items_json: str, attempt: int) -> Future[BatchOutcome]:
        if job.step.executor == "process":
            if self._process_pool is None:
                self._process_pool = ProcessPoolExecutor(
                    max_workers=self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=init_worker,
                    initargs=(self.step_modules, str(self.cancel_dir)),
                )
            return self._process_pool.submit(
                run_in_process,
                job.step.name,
                job.step.version,
                job.params_json,
                job.id,
                idx,
                attempt,
                first_item,
                items_json,
            )
        if self._thread_pool is None:
            self._thread_pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="jobnode-batch")
        job_id = job.id
        return self._thread_pool.submit(
            execute_batch,
            job.step,
            job.params,
            job.id,
            idx,
            attempt,
            first_item,
            items_json,
            lambda: job_id in self._cancelled,
        )

    def _record(self, conn: sqlite3.Connection, o: BatchOutcome, changed: set[str]) -> None:
        with self._lock:
            job = self._active.get(o.job_id)
            if job is None:
                return  # cancelled, timed out or deleted meanwhile: its results are dropped
            job.inflight.discard(o.batch)
        now = time.time()
        changed.add(job.id)
        if o.error is not None:
            retry = o.attempt < job.max_attempts
            Store.insert_errors(conn, [(job.id, now, None, o.batch, o.attempt, o.error)])
            status = "Retrying" if retry else "DeadLettered"
            Store.insert_logs(
                conn,
                [(job.id, micros(now), ERROR, "BatchFailed", f"batch {o.batch}", status, o.duration * 1000, o.error)],
            )
            if retry:
                conn.execute(
                    "UPDATE batches SET state = 'pending', error = ? WHERE job_id = ? AND idx = ?",
                    (o.error, job.id, o.batch),
                )
                conn.execute(
                    "UPDATE jobs SET batches_running = batches_running - 1, updated_at = ? WHERE id = ?", (now, job.id)
                )
                job.pending.append(o.batch)
                return
            size, items_json = conn.execute(
                "SELECT size, items FROM batches WHERE job_id = ? AND idx = ?", (job.id, o.batch)
            ).fetchone()
            conn.execute(
                "UPDATE batches SET state = 'dead', error = ? WHERE job_id = ? AND idx = ?", (o.error, job.id, o.batch)
            )
            conn.execute(
                "INSERT OR REPLACE INTO dead_letters (job_id, batch, time, attempts, error, items) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (job.id, o.batch, now, o.attempt, o.error, items_json),
            )
            labels = o.labels or [str(o.first_item + i) for i in range(size)]
            Store.insert_logs(
                conn,
                [(job.id, micros(now), ERROR, "ItemFailed", label, "DeadLettered", None, o.error) for label in labels],
            )
            conn.execute(
                "UPDATE jobs SET items_failed = items_failed + ?, batches_failed = batches_failed + 1, "
                "batches_running = batches_running - 1, updated_at = ? WHERE id = ?",
                (size, now, job.id),
            )
            return
        per_item = o.duration * 1000 / max(1, len(o.labels))
        at = micros(now)
        failed = dict(o.item_errors)
        conn.execute(
            "UPDATE batches SET state = 'succeeded', results = ?, error = NULL WHERE job_id = ? AND idx = ?",
            (o.results_json, job.id, o.batch),
        )
        Store.insert_logs(
            conn,
            [
                (job.id, at, ERROR, "ItemFailed", label, "Failed", per_item, failed[i])
                if i in failed
                else (job.id, at, INFO, "ItemProcessed", label, "Succeeded", per_item, None)
                for i, label in enumerate(o.labels)
            ],
        )
        if failed:
            Store.insert_errors(
                conn, [(job.id, now, o.labels[i], o.batch, o.attempt, message) for i, message in failed.items()]
            )
        conn.execute(
            "UPDATE jobs SET items_processed = items_processed + ?, items_failed = items_failed + ?, "
            "batches_succeeded = batches_succeeded + 1, batches_running = batches_running - 1, updated_at = ? "
            "WHERE id = ?",
            (len(o.labels) - len(failed), len(failed), now, job.id),
        )
        if job.webhook is not None:
            self._deliver(job, o.batch, o.first_item, o.labels, o.results_json)

    def _end(self, conn: sqlite3.Connection, job_id: str, state: str, reason: str, changed: set[str]) -> bool:
        """Move a job that has not ended to a terminal state; a no-op on a finished job."""
        now = time.time()
        cur = conn.execute(
            f"UPDATE jobs SET state = ?, reason = ?, message = ?, ended_at = ?, updated_at = ?, batches_running = 0 "
            f"WHERE id = ? AND state IN {ACTIVE_SQL}",
            (state, reason, state.replace("_", " "), now, now, job_id),
        )
        if cur.rowcount == 0:
            return False
        Store.insert_event(conn, job_id, state, state, reason, at=now)
        Store.insert_logs(conn, [(job_id, micros(now), WARNING, "JobStopped", None, state, None, reason)])
        with self._lock:
            self._active.pop(job_id, None)
            self._cancelled.add(job_id)
        (self.cancel_dir / job_id).touch()
        changed.add(job_id)
        return True

    def _finish(self, conn: sqlite3.Connection, job: ActiveJob, changed: set[str]) -> None:
        row = conn.execute(
            "SELECT state, items_total, items_processed, items_failed, items_delivered, items_failed_delivery "
            "FROM jobs WHERE id = ?",
            (job.id,),
        ).fetchone()
        if row is None or row["state"] != "running":
            with self._lock:
                self._active.pop(job.id, None)
            return
        artifact = self._write_output(conn, job.id)
        failed, total = row["items_failed"], row["items_total"]
        undelivered = row["items_failed_delivery"]
        now = time.time()
        if failed + undelivered > job.max_item_failures:
            state = "failed"
            reason = "; ".join(
                part
                for part in (
                    f"{failed} of {total} items failed" if failed else "",
                    f"{undelivered} of {total} items could not be delivered to the webhook" if undelivered else "",
                )
                if part
            )
            if job.max_item_failures:
                reason += f" (at most {job.max_item_failures} allowed)"
        else:
            state = "succeeded"
            reason = None
        message = f"{row['items_processed']} of {total} items processed" + (f", {failed} failed" if failed else "")
        if job.webhook is not None:
            message += f", {row['items_delivered']} delivered" + (
                f", {undelivered} not delivered" if undelivered else ""
            )
        conn.execute(
            "UPDATE jobs SET state = ?, reason = ?, message = ?, ended_at = ?, updated_at = ? WHERE id = ?",
            (state, reason, message, now, now, job.id),
        )
        Store.insert_event(conn, job.id, state, state, reason or message, {"artifact": artifact}, at=now)
        with self._lock:
            self._active.pop(job.id, None)
        changed.add(job.id)

    def _write_output(self, conn: sqlite3.Connection, job_id: str) -> str:
        """Write the job's results, in item order, to its `results` artifact (JSON lines)."""

        artifact_id = new_id("art")
        path = self.artifacts_dir / f"{artifact_id}.jsonl"
        tmp = path.with_suffix(".tmp")
        records = 0
        with tmp.open("w", encoding="utf-8") as out:
            for _, results_json in conn.execute(
                "SELECT idx, results FROM batches WHERE job_id = ? AND results IS NOT NULL ORDER BY idx", (job_id,)
            ):
                lines = [encode_json(result) for result in json.loads(results_json) if result is not None]
                if lines:
                    out.write("\n".join(lines))
                    out.write("\n")
                    records += len(lines)
        os.replace(tmp, path)
        conn.execute(
            "INSERT INTO artifacts (id, job_id, name, path, media_type, records, size_bytes, created_at) "
            "VALUES (?, ?, 'results', ?, 'application/x-ndjson', ?, ?, ?)",
            (artifact_id, job_id, str(path), records, path.stat().st_size, time.time()),
        )
        return artifact_id

    def active_ids(self) -> Iterable[str]:
        with self._lock:
            return list(self._active)
