"""What every jobnode operator shares: a connection, a client per step of the task, the configured default for
`deferrable`, and durations given as seconds or a timedelta."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf

if TYPE_CHECKING:
    from jobnode.client import Client

DEFAULT_CONN_ID = "jobnode_default"


def default_deferrable() -> bool:
    """`[operators] default_deferrable` of the Airflow configuration."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def as_seconds(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta (got {value!r})")
    return seconds


class JobnodeTask(BaseOperator):
    """What every jobnode operator has: a connection, and a client per step of the task."""

    def __init__(self, *, jobnode_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobnode_conn_id = jobnode_conn_id

    @contextmanager
    def _client(self) -> Iterator[Client]:
        """A client for the duration of one step of the task, closed afterwards (even when the task defers)."""
        from jobnode.airflow.hooks import JobnodeHook

        hook = JobnodeHook(self.jobnode_conn_id)
        try:
            yield hook.client
        finally:
            hook.close()
