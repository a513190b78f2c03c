"""A job's log as a person reads it: one line per entry, and a summary (entries by level, the first errors).

Airflow's task log, Prefect's run log and their artifacts all show entries through `format_entry` and summaries
through `LogTally`, so a job's log reads the same wherever it is shown.
"""

from __future__ import annotations

from collections import Counter

from pydantic import Field

from jobnode.core.models import LogEntry, LogLevel, Model

#: error entries a summary keeps unless told otherwise
FIRST_ERRORS = 10


def format_entry(entry: LogEntry) -> str:
    """One log entry as one line: time, level, kind, then the item, status, duration and message it has.

    Example:
        ```python
        format_entry(entry)
        # '2026-01-31T08:00:00.123+00:00 ERROR ItemFailed item=42 status=failed 12ms bad input'
        ```
    """
    parts = [entry.time.isoformat(timespec="milliseconds"), entry.level.value.upper(), entry.kind]
    if entry.item is not None:
        parts.append(f"item={entry.item}")
    if entry.status:
        parts.append(f"status={entry.status}")
    if entry.duration_ms is not None:
        parts.append(f"{entry.duration_ms:.0f}ms")
    if entry.message:
        parts.append(entry.message)
    return " ".join(parts)


class LogSummary(Model):
    """What a job's log held: how many entries of each level, and the first errors.

    Attributes:
        job_id: the job.
        entries: how many entries were read.
        by_level: entries per level (`{"info": 95, "error": 5}`); levels without entries are left out.
        first_errors: the first error entries, oldest first.
    """

    job_id: str
    entries: int = 0
    by_level: dict[str, int] = Field(default_factory=dict)
    first_errors: list[LogEntry] = Field(default_factory=list)

    @property
    def errors(self) -> int:
        """How many error entries there were."""
        return self.by_level.get(LogLevel.ERROR.value, 0)

    def counts(self) -> str:
        """The counts as text, most severe level first: `5 error, 95 info` (or `none`)."""
        shown = [f"{self.by_level[lvl.value]} {lvl.value}" for lvl in reversed(LogLevel) if lvl.value in self.by_level]
        return ", ".join(shown) or "none"


class LogTally:
    """Counts entries as they stream by and keeps the first errors, in constant memory.

    Example:
        ```python
        tally = LogTally(job.id)
        async for entry in client.jobs.iter_logs(job.id):
            tally.add(entry)
        print(tally.summary().counts())
        ```
    """

    def __init__(self, job_id: str, *, first_errors: int = FIRST_ERRORS) -> None:
        self.job_id = job_id
        self._keep = first_errors
        self._counts: Counter[str] = Counter()
        self._errors: list[LogEntry] = []

    def add(self, entry: LogEntry) -> None:
        self._counts[entry.level.value] += 1
        if entry.level is LogLevel.ERROR and len(self._errors) < self._keep:
            self._errors.append(entry)

    def summary(self) -> LogSummary:
        return LogSummary(
            job_id=self.job_id,
            entries=sum(self._counts.values()),
            by_level=dict(self._counts),
            first_errors=list(self._errors),
        )
