"""The Cortex Batch API on the wire: pydantic models with the platform's exact field names.

Two shapes of the answers exist, and these models read both:

- the **0.28** one that the documentation (the seed) shows and the emulator answers with: status strings with a
  `status_` prefix (`status_running`), `batch_metrics` inside `job_status` with `avg_time_per_batch`, worker counts
  `pending, initializing, running, succeeded, failed, stalled`, and `created_time`;
- the **0.42** one of the last release: bare status strings (`running`), a top-level `metrics` with
  `average_time_per_batch`, worker counts `pending, creating, not_ready, ready, succeeded, err_image_pull,
  terminating, failed, killed, killed_oom, stalled, unknown`, and `start_time` only.

The submission itself did not change between the two. Field defaults are Go's zero values, as the operator reads
a body that leaves a field out (a missing `workers` is 0, which validation then refuses).

Example:
    ```python
    response = BatchJobResponse.model_validate(body)
    response.job_status.code()         # "running", whichever spelling came
    response.batch_metrics().succeeded
    ```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: the `kind` of a Batch API and of its jobs
BATCH_API = "BatchAPI"
#: the 0.28 spelling of a status: `status_` + the 0.42 one
STATUS_PREFIX = "status_"
#: what a successful dry run ends with
VALIDATIONS_PASSED = "validations passed"
ITEM_LIST, FILE_PATH_LISTER, DELIMITED_FILES = "item_list", "file_path_lister", "delimited_files"


class Wire(BaseModel):
    """A Cortex body: unknown fields are ignored, as Go's `encoding/json` does."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body; unset optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Strict(Wire):
    """A request body: numbers must be whole numbers where Go wants an `int` (Go refuses `2.5` and `"2"`)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", strict=True)


# -- the submission ---------------------------------------------------------------------------------------------


class DeadLetterQueue(Strict):
    """`sqs_dead_letter_queue`: where a batch goes after `max_receive_count` failed attempts."""

    arn: str = ""
    max_receive_count: int = 0


class ItemList(Strict):
    """`item_list`: the items in the request."""

    items: list[Any] = Field(default_factory=list)
    batch_size: int = 0


class S3Lister(Strict):
    """`file_path_lister` (each S3 file is an item) and `delimited_files` (each JSON value of each file is one)."""

    s3_paths: list[str] = Field(default_factory=list)
    includes: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(default_factory=list)
    batch_size: int = 0


class Submission(Strict):
    """`POST <batch_api_endpoint>`: exactly one of `item_list`, `file_path_lister`, `delimited_files`."""

    workers: int = 0
    timeout: int | None = None
    sqs_dead_letter_queue: DeadLetterQueue | None = None
    item_list: ItemList | None = None
    file_path_lister: S3Lister | None = None
    delimited_files: S3Lister | None = None
    config: dict[str, Any] | None = None

    def sources(self) -> list[str]:
        """The input keys given, in Cortex's order."""
        given = (
            (ITEM_LIST, self.item_list),
            (FILE_PATH_LISTER, self.file_path_lister),
            (DELIMITED_FILES, self.delimited_files),
        )
        return [key for key, value in given if value is not None]

    def batch_size(self) -> int:
        source = self.item_list or self.file_path_lister or self.delimited_files
        return source.batch_size if source is not None else 0


# -- the answers ------------------------------------------------------------------------------------------------


class BatchJob(Wire):
    """A job as submitted: the answer of `POST` (and the start of its status)."""

    job_id: str
    api_name: str = ""
    kind: str = BATCH_API
    workers: int = 0
    sqs_dead_letter_queue: DeadLetterQueue | None = None
    config: dict[str, Any] | None = None
    timeout: int | None = None
    api_id: str = ""
    sqs_url: str = ""
    total_batch_count: int = 0
    created_time: str | None = None
    start_time: str | None = None


class BatchMetrics(Wire):
    """Batch counts: `failed` counts failed attempts; the average considers successful attempts only (seconds)."""

    succeeded: int = 0
    failed: int = 0
    avg_time_per_batch: float | None = None
    average_time_per_batch: float | None = None

    def average(self) -> float | None:
        return self.avg_time_per_batch if self.avg_time_per_batch is not None else self.average_time_per_batch


class WorkerCounts(Wire):
    """Worker counts while a job runs, in either release's keys."""

    pending: int = 0
    initializing: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    stalled: int = 0
    unknown: int = 0
    creating: int = 0
    not_ready: int = 0
    ready: int = 0
    err_image_pull: int = 0
    terminating: int = 0
    killed: int = 0
    killed_oom: int = 0

    def busy(self) -> int:
        """Workers working on batches: `running` (0.28) or `ready` (0.42)."""
        return self.running + self.ready


class BatchJobStatus(BatchJob):
    status: str = "unknown"
    end_time: str | None = None
    batches_in_queue: int = 0
    batch_metrics: BatchMetrics | None = None
    worker_counts: WorkerCounts | None = None

    def code(self) -> str:
        """The status without its 0.28 prefix (`running`)."""
        return self.status.removeprefix(STATUS_PREFIX)


class BatchJobResponse(Wire):
    """`GET <batch_api_endpoint>?jobID=`."""

    job_status: BatchJobStatus
    metrics: BatchMetrics | None = None
    endpoint: str = ""
    api_spec: dict[str, Any] | None = None

    def batch_metrics(self) -> BatchMetrics:
        """The metrics wherever the release put them (`job_status.batch_metrics` or `metrics`)."""
        return self.job_status.batch_metrics or self.metrics or BatchMetrics()


class APIResponse(Wire):
    """One entry of the operator's `GET /get/<api_name>`: the API and its recent jobs (`cortex get <api_name>`)."""

    spec: dict[str, Any] = Field(default_factory=dict)
    endpoint: str = ""
    batch_job_statuses: list[BatchJobStatus] | None = None


class ErrorResponse(Wire):
    """Every error of the operator (HTTP 400)."""

    kind: str
    message: str


class StopResponse(Wire):
    """`DELETE <batch_api_endpoint>?jobID=`."""

    message: str
