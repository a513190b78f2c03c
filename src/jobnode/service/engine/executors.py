"""Where batches run: a thread pool for thread steps, a pool of worker processes for process steps, each with a
capacity the scheduler fills; every batch ends with one call of `report`, whatever happens to its worker."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from jobnode.service.engine.active import ActiveJob
from jobnode.service.runner import BatchOutcome, execute_batch, init_worker, run_in_process


class Executors:
    """The pools, made on first use; `report(outcome)` is called from a pool's thread when a batch ends."""

    def __init__(
        self,
        report: Callable[[BatchOutcome], None],
        is_stopped: Callable[[str], bool],
        *,
        step_modules: Sequence[str],
        cancel_dir: Path,
        threads: int,
        processes: int,
    ) -> None:
        self._report = report
        self._is_stopped = is_stopped
        self._step_modules = list(step_modules)
        self._cancel_dir = cancel_dir
        self._threads = threads
        self._processes = processes
        self._thread_pool: ThreadPoolExecutor | None = None
        self._process_pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._inflight = {"thread": 0, "process": 0}

    def capacity(self, executor: str) -> int:
        """How many more batches the pool of `executor` takes now."""
        limit = self._threads if executor == "thread" else self._processes * 2
        with self._lock:
            return limit - self._inflight[executor]

    def claimed(self, executor: str) -> None:
        """A batch was claimed for `executor` (counted before it is submitted, so that one turn cannot overfill)."""
        with self._lock:
            self._inflight[executor] += 1

    def shutdown(self) -> None:
        if self._thread_pool:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)
        if self._process_pool:
            self._process_pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, job: ActiveJob, idx: int, first_item: int, items_json: str, attempt: int) -> None:
        executor = job.step.executor
        try:
            future = self._start(job, idx, first_item, items_json, attempt)
        except BrokenProcessPool as exc:
            self._process_pool = None  # a worker died: the next batch gets a fresh pool
            failed = BatchOutcome(job.id, idx, attempt, first_item, [], 0.0, error=f"worker failed: {exc}")
            self._finished(executor, failed)
            return

        def done(f: Future[BatchOutcome]) -> None:
            try:
                outcome = f.result()
            except BaseException as exc:  # a worker process died, or the pool shut down
                if isinstance(exc, BrokenProcessPool):
                    self._process_pool = None
                outcome = BatchOutcome(job.id, idx, attempt, first_item, [], 0.0, error=f"worker failed: {exc!r}")
            self._finished(executor, outcome)

        future.add_done_callback(done)

    def _finished(self, executor: str, outcome: BatchOutcome) -> None:
        with self._lock:
            self._inflight[executor] -= 1
        self._report(outcome)

    def _start(self, job: ActiveJob, idx: int, first_item: int, items_json: str, attempt: int) -> Future[BatchOutcome]:
        if job.step.executor == "process":
            if self._process_pool is None:
                self._process_pool = ProcessPoolExecutor(
                    max_workers=self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=init_worker,
                    initargs=(self._step_modules, str(self._cancel_dir)),
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
            lambda: self._is_stopped(job_id),
        )
