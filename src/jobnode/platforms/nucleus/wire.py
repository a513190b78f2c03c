"""The Scale Nucleus API on the wire (async jobs and the dataset uploads that start them): pydantic models with the
platform's exact field names, quirks included.

- Routes have no leading slash and are appended to the endpoint, path included (`.../v1/nucleus/job/{id}`).
- Keys are snake_case, but for `requestId` (an async upload's request) and the camelCase keys of the annotation
  inside an error string (`referenceId`, `annotationId`), which is how the seed shows them.
- A job's `status()` counters are strings (`"job_progress": "0.33"`), and the docs spell one `"total_steps:"`
  (colon included): both spellings are read.
- `job/{id}/errors` is an array of strings, each a JSON object serialized again (`'{"annotation": ..., "error":
  "Item with id bad_ref_id doesn't exist."}'`).

Example:
    ```python
    status = JobStatus.model_validate(response.json())
    status.status, status.total_steps            # ("Completed", "3")
    JobInfoRequest(show_completed=True).to_wire()  # every key present, as the SDK sends it
    ```
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

#: `status` values (the SDK's `JobStatus`); any value starting with `Errored` is an error
QUEUED, RUNNING, COMPLETED = "Queued", "Running", "Completed"
ERRORED, ERRORED_SERVER, ERRORED_USER = "Errored", "Errored_Server", "Errored_User"
ERRORED_PARTIAL, ERRORED_HANGING = "Errored_Partial", "Errored_Hanging"
CANCELLED, RETRIED = "Cancelled", "Retried"
ERROR_PREFIX = ERRORED

#: `job_type` of the two jobs jobnode starts
APPEND_JOB, ANNOTATE_JOB = "uploadDatasetItems", "uploadAnnotations"
#: every `job_type` the SDK knows (`CustomerJobTypes`); `list_jobs(job_types=...)` takes only these
JOB_TYPES = (
    APPEND_JOB,
    "uploadPredictions",
    ANNOTATE_JOB,
    "uploadLidarScene",
    "uploadVideoScene",
    "modelInferenceRun",
    "indexingImage",
    "indexingObject",
    "annotationDeletion",
    "sendToLabeling",
    "ingestTasks",
    "customIndexing",
    "embeddingDelete",
    "testEvaluation",
    "modelMetrics",
    "modelRunCommit",
    "autotagInference",
    "sliceQuery",
    "cloneDataset",
    "metadataUpdate",
    "triggerEvaluate",
    "exportEmbeddings",
)
#: annotation `type`s (the SDK's `ANNOTATION_TYPES`)
ANNOTATION_TYPES = ("box", "line", "polygon", "keypoints", "segmentation", "cuboid", "category", "multicategory")
#: the most jobs one `POST jobs/` returns (and its default `limit`)
JOBS_LIMIT_MAX = 50_000
#: the most local files the SDK sends in one multipart append
LOCAL_FILES_PER_REQUEST = 10
#: the errors `job/{id}/errors` returns at most (the most recent ones)
ERRORS_MAX = 10_000


class Wire(BaseModel):
    """A Nucleus body: built by wire name or attribute name; unknown fields are kept (the platform adds some)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body with the wire's field names; unset optional fields are left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# -- jobs -----------------------------------------------------------------------------------------------------------


class JobInfo(Wire):
    """A job as `get_job`, `list_jobs` and the async routes return it: the four keys the SDK requires."""

    job_id: str
    job_last_known_status: str
    job_type: str
    job_creation_time: str = Field(description="ISO 8601, e.g. 2024-01-01T00:00:00.000Z (opaque to the SDK)")


class JobStatus(Wire):
    """`GET job/{id}`: the job's status, a message (required once it ended in error), and its step counters."""

    job_id: str | None = None
    status: str
    message: str | dict[str, Any] | None = None
    job_progress: str | None = None
    completed_steps: str | None = None
    total_steps: str | None = Field(default=None, validation_alias=AliasChoices("total_steps", "total_steps:"))


class JobInfoRequest(Wire):
    """`POST jobs/`: which jobs to list. Every key is sent, null or not, as the SDK does; dates are inclusive."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    dataset_id: str | None = None
    job_types: list[str] | None = Field(default_factory=list, description="null or [] for every type")
    from_date: str | None = None
    to_date: str | None = None
    limit: int = Field(default=JOBS_LIMIT_MAX, ge=1, le=JOBS_LIMIT_MAX)
    show_completed: bool = False

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class AsyncUploadRequest(Wire):
    """`POST dataset/{id}/append?async=1` and `.../annotate?async=1`: the file uploaded to the signed URL."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    request_id: str = Field(alias="requestId", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
    update: bool = False


class SignedUrl(Wire):
    """`GET dataset/{id}/signedUrl/{request_id}`: where to `PUT` the newline-delimited JSON (no credentials)."""

    signed_url: str


# -- datasets, items and annotations --------------------------------------------------------------------------------


class CreateDatasetRequest(Wire):
    """`POST dataset/create`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    is_scene: bool | None = False
    use_privacy_mode: bool = False
    annotation_metadata_schema: dict[str, Any] | None = None
    item_metadata_schema: dict[str, Any] | None = None


class CreatedDataset(Wire):
    dataset_id: str
    name: str


class DatasetItem(Wire):
    """An item as the SDK uploads it (`DatasetItem.to_payload()`): an image by URL, named by its reference id."""

    reference_id: str = Field(min_length=1)
    image_url: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)


class Annotation(Wire):
    """A ground-truth annotation as the SDK uploads it (`BoxAnnotation.to_payload()`, ...), snake_case."""

    label: str | None = None
    type: str
    geometry: dict[str, Any] | None = None
    reference_id: str = Field(min_length=1)
    annotation_id: str | None = None
    metadata: dict[str, Any] | None = None


def camel(key: str) -> str:
    """`reference_id` as `referenceId`: how the annotation inside an error string spells its keys."""
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def upload_error(kind: str, unit: Any, error: str) -> str:
    """One element of `job/{id}/errors`, as the seed shows it: the uploaded annotation (or item) with its null keys
    left out and its top-level keys in camelCase (anything else that was uploaded as it is), and the error,
    serialized compactly.

    Example:
        ```python
        upload_error("annotation", {"label": "car", "reference_id": "bad_ref_id"}, missing_item_error("bad_ref_id"))
        # {"annotation":{"label":"car","referenceId":"bad_ref_id"},"error":"Item with id bad_ref_id doesn't exist."}
        ```
    """
    body = {camel(k): v for k, v in unit.items() if v is not None} if isinstance(unit, dict) else unit
    return json.dumps({kind: body, "error": error}, separators=(",", ":"), ensure_ascii=False)


def missing_item_error(reference_id: str) -> str:
    """The seed's text for an annotation whose reference id names no item of the dataset."""
    return f"Item with id {reference_id} doesn't exist."


# -- errors ---------------------------------------------------------------------------------------------------------


class ErrorBody(Wire):
    """Scale's error body: `{"status_code": 404, "error": "..."}` (the SDK only appends the raw text)."""

    status_code: int
    error: str
