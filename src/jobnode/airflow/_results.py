"""What jobnode tasks return, log and raise about a job: shared by the operators and the sensor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from jobnode.client import failure_report
from jobnode.core.errors import AuthenticationError, BadRequest, NotFound, PermissionDenied, ValidationFailed
from jobnode.core.models import Job, JobState
from jobnode.progress import Throttle, describe

if TYPE_CHECKING:
    from jobnode.airflow.triggers import JobEventPayload
    from jobnode.client import Client

#: errors that a retry of the task cannot cure: the task fails without retrying (a `ValueError` is a request the
#: client refused before sending it, such as step parameters for an existing Nexus deployment)
NOT_RETRYABLE = (AuthenticationError, BadRequest, NotFound, PermissionDenied, ValidationFailed, ValueError)


def job_summary(jobs: Sequence[Job]) -> dict[str, Any]:
    """The JSON a task returns (its `return_value` XCom) about a job: its id, state, URL, inputs and outputs.

    `jobs` is the job, after the jobs whose failures it ran again (`client.jobs.resubmission_chain`): the inputs are
    the first one's, the outputs those of them all, so that together they hold every item's result. `outputs` is
    what a downstream job's `artifacts=` input takes: `JobnodeSubmitJobOperator(..., artifacts=up.output["outputs"])`.
    """
    job = jobs[-1]
    return {
        "job_id": job.id,
        "state": job.state.value,
        "url": job.url,
        "message": describe(job),
        "inputs": [a.id for a in jobs[0].inputs],
        "outputs": [a.id for j in jobs for a in j.outputs],
    }


def raise_if_failed(client: Client, job: Job) -> Job:
    """The job, unless it ended in another state than succeeded: then fail the task with its reason and last
    errors (retries allowed)."""
    if not job.is_terminal or job.state is JobState.SUCCEEDED:
        return job
    raise AirflowException(failure_report(client.jobs.failure_of(job)))


def raise_for_event(payload: JobEventPayload) -> None:
    """Raise what a trigger's `failed`, `timeout` or `error` event means for the task (retries allowed)."""
    if payload["status"] != "success":
        raise AirflowException(payload["message"])


def not_retryable(exc: Exception, what: str) -> None:
    """Raise `AirflowFailException` (no retries) for a client error that a retry cannot cure; return otherwise,
    for the caller to re-raise the error as it is.

    Example:
        ```python
        except Exception as exc:
            not_retryable(exc, "cannot create the job")
            raise
        ```
    """
    if isinstance(exc, NOT_RETRYABLE):
        raise AirflowFailException(f"{what}: {exc}") from exc


class _Logger(Protocol):
    def info(self, event: Any, /, *args: Any) -> Any: ...


class ProgressLog:
    """Throttled progress lines of a job in the task log (every state change, and every `every` seconds)."""

    def __init__(self, log: _Logger, every: float) -> None:
        self._log = log
        self._throttle = Throttle(every)

    def __call__(self, job: Job) -> None:
        if self._throttle.ready(job):
            self._log.info("job %s: %s", job.id, describe(job))
