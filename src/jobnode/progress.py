"""Showing a job's progress to a person: one readable line, and a live bar for terminals."""

from __future__ import annotations

import time
from typing import TextIO

from jobnode.core.models import Job


def describe(job: Job) -> str:
    """One line: state, items done of total, failures, batches."""
    p = job.progress
    total = "?" if p.items_total is None else str(p.items_total)
    parts = [f"{job.state.value}", f"{p.items_done}/{total} items"]
    if p.fraction is not None:
        parts[1] += f" ({p.fraction:.0%})"
    if p.items_failed:
        parts.append(f"{p.items_failed} failed")
    if p.items_delivered or p.items_failed_delivery:
        parts.append(f"{p.items_delivered} delivered")
    if p.batches_total:
        parts.append(f"batches {p.batches_succeeded + p.batches_failed}/{p.batches_total}")
    if job.is_terminal and job.reason:
        parts.append(job.reason)
    return ", ".join(parts)


class Throttle:
    """Lets a progress line through when the state changes or `every` seconds have passed."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last = float("-inf")
        self._state: object = None

    def ready(self, job: Job) -> bool:
        now = time.monotonic()
        if job.state != self._state or job.is_terminal or now - self._last >= self.every:
            self._last, self._state = now, job.state
            return True
        return False


class ProgressBar:
    """A live bar on a terminal; throttled lines when the output is not a terminal."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self.out = out
        self.width = width
        self.tty = out.isatty()
        self._throttle = Throttle(every=5.0)
        self._last: Job | None = None

    def update(self, job: Job) -> None:
        self._last = job
        if self.tty:
            fraction = job.progress.fraction or 0.0
            filled = int(fraction * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            self.out.write(f"\r[{bar}] {describe(job)}\x1b[K")
            self.out.flush()
        elif self._throttle.ready(job):
            self.out.write(describe(job) + "\n")
            self.out.flush()

    def close(self, job: Job) -> None:
        """End the bar's line; `job` is shown unless it was the last update already."""
        if self.tty:
            if job is not self._last:
                self.update(job)
            self.out.write("\n")
            self.out.flush()
