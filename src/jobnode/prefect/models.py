"""What the Prefect tasks return beyond jobnode's own models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from jobnode.core.models import LogEntry


class LogSummary(BaseModel):
    """What `fetch_job_logs` forwarded: how many entries of each level, and the first errors."""

    job_id: str
    entries: int = 0
    by_level: dict[str, int] = Field(default_factory=dict)
    first_errors: list[LogEntry] = Field(default_factory=list)
