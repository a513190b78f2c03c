"""`JobnodeFetchLogsOperator`: a job's log into the task log (and a file), with a summary."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from jobnode.airflow.links import XCOM_JOB_URL, JobnodeJobLink
from jobnode.airflow.operators._base import DEFAULT_CONN_ID, JobnodeTask

if TYPE_CHECKING:
    from airflow.sdk import Context

    from jobnode.client import Client
    from jobnode.core.backend import Capability
    from jobnode.core.models import Job, LogEntry


class JobnodeFetchLogsOperator(JobnodeTask):
    """Copies a job's log entries into the task log, optionally to a file, and returns a summary.

    Every entry that matches the filters is read, page by page (never all in memory, whatever the size of the log).
    With `output_path`, the entries are also written as JSON lines to that `ObjectStoragePath` (any fsspec URL:
    `file:///...`, `s3://...`). The summary counts entries by level and keeps the first errors; with `max_errors`,
    more error entries than that fail the task. On a platform without a logs API (Cortex) the task is skipped,
    saying so.

    Example:
        ```python
        logs = JobnodeFetchLogsOperator(
            task_id="logs",
            job_id="{{ ti.xcom_pull('score', key='job_id') }}",
            min_level="warning",
            output_path="file:///var/log/jobs/{{ run_id }}.jsonl",
            max_errors=0,
        )
        ```

    Args:
        job_id: the job (templated).
        min_level: the lowest level to read: debug, info, warning or error (templated).
        kind: only entries of this kind (`ItemSucceeded`, `ItemFailed`, ...; templated).
        after_time: only entries after this time (a datetime or ISO 8601 text; templated).
        before_time: only entries before this time (templated).
        output_path: where to write the entries as JSON lines (an `ObjectStoragePath` or URL; templated).
        echo: copy each entry into the task log.
        max_errors: fail the task when there are more error entries than this.
        first_errors: how many error entries the summary keeps.
    """

    template_fields: Sequence[str] = (
        "job_id",
        "min_level",
        "kind",
        "after_time",
        "before_time",
        "output_path",
        "jobnode_conn_id",
    )
    operator_extra_links = (JobnodeJobLink(),)
    ui_color = "#f3f0e8"

    def __init__(
        self,
        *,
        job_id: str,
        min_level: str | None = None,
        kind: str | None = None,
        after_time: datetime | str | None = None,
        before_time: datetime | str | None = None,
        output_path: Any = None,
        echo: bool = True,
        max_errors: int | None = None,
        first_errors: int = 10,
        jobnode_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(jobnode_conn_id=jobnode_conn_id, **kwargs)
        self.job_id = job_id
        self.min_level = min_level
        self.kind = kind
        self.after_time = after_time
        self.before_time = before_time
        self.output_path = output_path
        self.echo = echo
        self.max_errors = max_errors
        self.first_errors = first_errors
        self._job: Job | None = None
        self._output: str | None = None

    def filters(self) -> dict[str, Any]:
        """The rendered filters as `iter_logs` takes them; a wrong one fails the task without retries."""
        from jobnode.core.models import LogLevel

        filters: dict[str, Any] = {"kind": self.kind or None}
        if self.min_level:
            try:
                filters["min_level"] = LogLevel(str(self.min_level).lower())
            except ValueError:
                raise AirflowFailException(
                    f"min_level must be debug, info, warning or error (got {self.min_level!r})"
                ) from None
        for name in ("after_time", "before_time"):
            value = getattr(self, name)
            if isinstance(value, str) and value:
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    raise AirflowFailException(f"{name} must be an ISO 8601 time (got {value!r})") from None
            filters[name] = value or None
        return filters

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk import ObjectStoragePath

        from jobnode.client import format_entry

        filters = self.filters()
        path = ObjectStoragePath(self.output_path) if self.output_path else None
        self._output = str(path) if path is not None else None
        with self._client() as client:
            _skip_unless(client, "logs", f"job {self.job_id} has no log entries to fetch")
            with path.open("w") if path is not None else _nowhere() as sink:  # type: ignore[no-untyped-call]

                def show(entry: LogEntry) -> None:
                    if self.echo:
                        self.log.log(entry.level.rank, "%s", format_entry(entry))
                    if sink is not None:
                        sink.write(entry.model_dump_json() + "\n")

                self._job = client.jobs.get(self.job_id)
                context["ti"].xcom_push(key=XCOM_JOB_URL, value=self._job.url)
                summary = client.jobs.summarize_logs(
                    self.job_id, on_entry=show, first_errors=self.first_errors, **filters
                )
        first = [format_entry(e) for e in summary.first_errors]
        self.log.info(
            "job %s: %d log entries (%s)%s",
            self.job_id,
            summary.entries,
            summary.counts(),
            f", written to {path}" if path is not None else "",
        )
        if self.max_errors is not None and summary.errors > self.max_errors:
            raise AirflowException(
                f"job {self.job_id} logged {summary.errors} errors (at most {self.max_errors} allowed); "
                "first ones:\n" + "\n".join(f"  - {line}" for line in first)
            )
        return {
            "job_id": self.job_id,
            "entries": summary.entries,
            "by_level": summary.by_level,
            "first_errors": first,
            "output": self._output,
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The job whose log was read, as a run facet, and the file the entries were written to, as an output."""
        from jobnode.airflow.openlineage import logs_lineage, no_lineage

        return logs_lineage(self._job, self._output) if self._job is not None else no_lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_complete(task_instance)


def _skip_unless(client: Client, capability: Capability, consequence: str) -> None:
    """Skip the task, saying so plainly, when the platform does not offer the operation it is for."""
    if not client.backend.capabilities.supports(capability):
        from jobnode.core.errors import UnsupportedOperation

        raise AirflowSkipException(f"{UnsupportedOperation(client.platform, capability)}: {consequence}")


@contextmanager
def _nowhere() -> Iterator[None]:
    yield None
