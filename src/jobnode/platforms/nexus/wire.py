"""The Datature Nexus batch API on the wire: pydantic models with the platform's exact field casing.

Most fields are camelCase; the item counters of a job's status are PascalCase (`Gathered`, `FailedDeliver`), and
a snake_case or camelCase counter is silently read as 0 by Datature's own SDK, so the aliases below are the
contract. Times are integer milliseconds since the epoch. Python attribute names are snake_case; `to_wire()` gives
the JSON body with the wire names.

Example:
    ```python
    job = BatchJob.model_validate(response.json())
    job.status.items.delivered        # the "Delivered" counter
    job.to_wire()["status"]["items"]  # {"Gathered": 50, ..., "FailedDeliver": 0}
    ```
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

#: job `status.overview` values
WAITING, REACHED, FAILED = "Waiting", "Reached", "Failed"
#: dataset `status.overview` values that the SDK knows
DATASET_UPLOADING, DATASET_UPLOADED = "Uploading", "Uploaded"
DATASET_FAILED_UPLOAD, DATASET_FAILED_PROCESSING = "FailedUpload", "FailedProcessing"
NDJSON_SOURCE = "UploadedNewlineDelimitedJsonFile"
#: the most entries one `GET .../logs` returns
LOG_PAGE_MAX = 1000


class Wire(BaseModel):
    """A Nexus body: built by wire name or attribute name; unknown fields are ignored, as the SDK does."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body with the wire's field names; unset optional fields are left out, as Nexus does."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# -- jobs -----------------------------------------------------------------------------------------------------------


class ItemCounts(Wire):
    """How many of the dataset's items went through each stage of the pipeline."""

    gathered: int = Field(default=0, alias="Gathered")
    failed_gather: int = Field(default=0, alias="FailedGather")
    preprocessed: int = Field(default=0, alias="Preprocessed")
    failed_process: int = Field(default=0, alias="FailedProcess")
    predicted: int = Field(default=0, alias="Predicted")
    failed_predict: int = Field(default=0, alias="FailedPredict")
    delivered: int = Field(default=0, alias="Delivered")
    failed_deliver: int = Field(default=0, alias="FailedDeliver")

    def to_wire(self) -> dict[str, Any]:
        # every counter is sent, zeros included: that is what Nexus answers
        return self.model_dump(mode="json", by_alias=True)


class ExistingDeployment(Wire):
    kind: Literal["ExistingDeployment"] = "ExistingDeployment"
    deployment_id: str = Field(alias="deploymentId", min_length=1)


class DeploymentTemplate(Wire):
    """The deployment a job creates for itself from an artifact (`NewEphemeralDeployment`)."""

    name: str | None = None
    artifact_id: str | None = Field(default=None, alias="artifactId")
    model_id: str | None = Field(default=None, alias="modelId")
    replicas: int | None = None
    region: str | None = None
    version_tag: str | None = Field(default=None, alias="versionTag")
    instance_id: str | None = Field(default=None, alias="instanceId")
    resources: dict[str, int] | None = None
    options: dict[str, Any] | None = None


class NewEphemeralDeployment(Wire):
    kind: Literal["NewEphemeralDeployment"] = "NewEphemeralDeployment"
    template: DeploymentTemplate


Deployment = Annotated[ExistingDeployment | NewEphemeralDeployment, Field(discriminator="kind")]


class WebhookDestination(Wire):
    kind: Literal["Webhook"] = "Webhook"
    webhook_id: str | None = Field(default=None, alias="webhookId")


class ResultDelivery(Wire):
    destinations: list[WebhookDestination] = Field(default_factory=list)


class BatchJobSpec(Wire):
    deployment: Deployment
    result_delivery: ResultDelivery = Field(default_factory=ResultDelivery, alias="resultDelivery")
    dataset_id: str | None = Field(default=None, alias="datasetId")
    start_at_time: int | None = Field(default=None, alias="startAtTime")
    stop_at_time: int | None = Field(default=None, alias="stopAtTime")


class JobStatus(Wire):
    overview: str
    message: str
    update_date: int = Field(alias="updateDate")
    items: ItemCounts = Field(default_factory=ItemCounts)
    reason: str | None = None
    cancelled_at: int | None = Field(default=None, alias="cancelledAt")

    def to_wire(self) -> dict[str, Any]:
        body = super().to_wire()
        body["items"] = self.items.to_wire()
        return body


class BatchJob(Wire):
    """A batch job (`POST`, `GET`, `PATCH .../batch/jobs[/{id}]`)."""

    id: str
    object: str = "batch_job"
    name: str
    project_id: str = Field(alias="projectId")
    spec: BatchJobSpec
    status: JobStatus
    create_date: int = Field(alias="createDate")
    update_date: int = Field(alias="updateDate")

    def to_wire(self) -> dict[str, Any]:
        body = super().to_wire()
        body["status"] = self.status.to_wire()
        return body


class CreateJobRequest(Wire):
    name: str = Field(min_length=1, max_length=200)
    spec: BatchJobSpec


class PatchJobSpec(Wire):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    stop_at_time: int = Field(alias="stopAtTime")


class PatchJobRequest(Wire):
    """What `jobs.cancel` sends: cancelling a job is moving its stop time to now."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    spec: PatchJobSpec


# -- logs -----------------------------------------------------------------------------------------------------------


class LogEntry(Wire):
    kind: str
    create_time: int = Field(alias="createTime")
    id: str
    level: str
    item: str
    status: str
    time_ms: float = Field(alias="timeMs")
    reason: str = ""


class JobLogs(Wire):
    """One page of a job's log entries, newest first."""

    id: str
    object: str = "batch_job_log"
    project_id: str = Field(alias="projectId")
    entries: list[LogEntry] = Field(default_factory=list)


# -- listings and deletion ------------------------------------------------------------------------------------------


class Page(Wire, Generic[T]):
    """A listing; `next_page` and `prev_page` are opaque cursors passed back as `page`."""

    next_page: str | None = Field(default=None, alias="nextPage")
    prev_page: str | None = Field(default=None, alias="prevPage")
    data: list[T] = Field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        # the cursors are sent even when null, as Nexus does
        return {
            "nextPage": self.next_page,
            "prevPage": self.prev_page,
            "data": [d.to_wire() if isinstance(d, Wire) else d for d in self.data],
        }


class DeleteResponse(Wire):
    id: str | None = None
    deleted: bool


# -- datasets -------------------------------------------------------------------------------------------------------


class DatasetSourceSpec(Wire):
    kind: str = NDJSON_SOURCE
    size_bytes: int = Field(alias="sizeBytes", ge=0)
    crc32c: str = Field(description="base64 of the big-endian CRC32C of the file")


class DatasetSpec(Wire):
    source: DatasetSourceSpec


class CreateDatasetRequest(Wire):
    name: str = Field(min_length=1)
    spec: DatasetSpec


class UploadUrl(Wire):
    method: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    expires_at_time: int = Field(alias="expiresAtTime")


class DatasetSource(Wire):
    kind: str
    upload_url: UploadUrl = Field(alias="uploadUrl")


class DatasetStatus(Wire):
    overview: str
    message: str
    update_time: int = Field(alias="updateTime")
    source: DatasetSource
    item_count: int = Field(alias="itemCount")


class Dataset(Wire):
    """A newline-delimited JSON file of items, uploaded once; a job's input."""

    id: str
    object: str = "batch_dataset"
    name: str
    project_id: str = Field(alias="projectId")
    expiry_time: int = Field(alias="expiryTime")
    status: DatasetStatus
    create_date: int = Field(alias="createDate")
    update_date: int = Field(alias="updateDate")


# -- webhooks -------------------------------------------------------------------------------------------------------


class WebhookRetries(Wire):
    max_retries: int = Field(default=3, alias="maxRetries", ge=0)
    max_backoff_ms: int = Field(default=15000, alias="maxBackoffMs", ge=0)


class WebhookSecret(Wire):
    contents: str = Field(repr=False, description="base64 of the secret's bytes")


class WebhookSpec(Wire):
    endpoint: str | None = None
    secret: WebhookSecret | None = Field(default=None, repr=False)
    retries: WebhookRetries | None = None


class CreateWebhookRequest(Wire):
    name: str | None = None
    spec: WebhookSpec = Field(default_factory=WebhookSpec)


class UpdateWebhookRequest(Wire):
    spec: WebhookSpec


class Webhook(Wire):
    """Where a job's results are delivered; the secret is never sent back."""

    id: str
    object: str = "batch_webhook"
    project_id: str = Field(alias="projectId")
    name: str
    endpoint: str
    retries: WebhookRetries
    create_date: int = Field(alias="createDate")
    update_date: int = Field(alias="updateDate")


class WebhookTestResult(Wire):
    status: str
    response_code: int = Field(alias="responseCode")
    latency_ms: int = Field(alias="latencyMs")
    attempt_count: int = Field(alias="attemptCount")
    body: str | None = None
    reason: str | None = None


# -- artifacts ------------------------------------------------------------------------------------------------------


class AvailableInstance(Wire):
    instance_id: str = Field(alias="instanceId")
    resources: dict[str, int] = Field(default_factory=dict)
    regions: list[str] = Field(default_factory=list)
    accelerator: dict[str, Any] | None = None


class AvailableInstances(Wire):
    """The instance types an artifact can be deployed on, in a region (`*` for any)."""

    artifact_id: str = Field(alias="artifactId")
    region: str
    available_instances: list[AvailableInstance] = Field(alias="availableInstances")
