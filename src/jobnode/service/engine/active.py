"""What the engine keeps in memory about the jobs that have not ended, shared by its parts under one lock."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass, field

from pydantic import BaseModel

from jobnode.core.models import JobState, Webhook
from jobnode.service.steps import Step


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


@dataclass
class ActiveJob:
    """A job that has not ended: its step, limits, and which of its batches wait, run or are being delivered."""

    id: str
    state: JobState
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


class ActiveJobs:
    """The active jobs by id, the ids of the jobs that were stopped (their running batches are told to stop and
    their late results dropped), and the event that wakes the scheduler."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._jobs: dict[str, ActiveJob] = {}
        self._stopped: set[str] = set()
        self._wake = threading.Event()

    def add(self, job: ActiveJob) -> None:
        with self.lock:
            self._jobs[job.id] = job
        self.wake()

    def get(self, job_id: str) -> ActiveJob | None:
        with self.lock:
            return self._jobs.get(job_id)

    def remove(self, job_id: str) -> None:
        with self.lock:
            self._jobs.pop(job_id, None)

    def stop(self, job_id: str) -> None:
        """The job ended early (cancelled, timed out): forget it and let its running batches know."""
        with self.lock:
            self._jobs.pop(job_id, None)
            self._stopped.add(job_id)

    def is_stopped(self, job_id: str) -> bool:
        return job_id in self._stopped

    def all(self) -> list[ActiveJob]:
        with self.lock:
            return list(self._jobs.values())

    def ids(self) -> list[str]:
        with self.lock:
            return list(self._jobs)

    def wake(self) -> None:
        """Have the scheduler take a turn now."""
        self._wake.set()

    def sleep(self, timeout: float) -> None:
        """Wait for `wake` (or `timeout`), then clear it."""
        self._wake.wait(timeout)
        self._wake.clear()
