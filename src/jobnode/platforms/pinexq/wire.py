"""PinexQ's Job-Management API on the wire: the properties of each entity and the parameters of each action, with
the platform's exact PascalCase names (Python attributes are snake_case).

Properties are what `Entity.properties` holds; PinexQ's SDK maps them onto its own models and warns about any name
it does not know, so these models hold exactly the SDK's names. Times carry a time zone (the SDK refuses naive
ones). Unknown names in what a client sends are ignored, as the platform does.

Example:
    ```python
    props = JobProperties.model_validate(entity.properties)
    props.state, props.error_description      # ("Error", "ValueError: x must be positive")
    CreateJobParameters(name="nightly").to_wire()   # {"Name": "nightly"}
    ```
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

#: the API version the emulator reports: the one `pinexq-client` 2.7.0 was built for (major and minor are compared)
API_VERSION = "11.2.0"


class JobStates(enum.StrEnum):
    UNDEFINED = "Undefined"
    CREATED = "Created"
    READY_FOR_PROCESSING = "ReadyForProcessing"
    PENDING = "Pending"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    ERROR = "Error"
    CANCELED = "Canceled"
    DATA_MISSING = "DataMissing"


class WorkDataKind(enum.StrEnum):
    UNKNOWN = "Unknown"
    CLIENT_UPLOAD = "ClientUpload"
    PROCESSING_ARTEFACT = "ProcessingArtefact"
    MONITORING = "Monitoring"


class SortTypes(enum.StrEnum):
    NONE = "None"
    ASCENDING = "Ascending"
    DESCENDING = "Descending"


class Wire(BaseModel):
    """A PinexQ body: built by wire name or attribute name; unknown names are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON with the wire's names; unset fields are left out, as the SDK sends them."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# -- entity properties ----------------------------------------------------------------------------------------------


class ProcessingView(Wire):
    title: str | None = Field(default=None, alias="Title")
    description: str | None = Field(default=None, alias="Description")
    function_name: str | None = Field(default=None, alias="FunctionName")
    version: str | None = Field(default=None, alias="Version")
    number_of_input_data_slots: int | None = Field(default=None, alias="NumberOfInputDataSlots")
    number_of_output_data_slots: int | None = Field(default=None, alias="NumberOfOutputDataSlots")


class JobProperties(Wire):
    name: str | None = Field(default=None, alias="Name")
    owner_id: str | None = Field(default=None, alias="OwnerId")
    created_by: str | None = Field(default=None, alias="CreatedBy")
    state: JobStates | None = Field(default=None, alias="State")
    tags: list[str] | None = Field(default=None, alias="Tags")
    hidden: bool | None = Field(default=None, alias="Hidden")
    output_is_deletable: bool | None = Field(default=None, alias="OutputIsDeletable")
    created_at: AwareDatetime | None = Field(default=None, alias="CreatedAt")
    scheduled_at: AwareDatetime | None = Field(default=None, alias="ScheduledAt")
    started_at: AwareDatetime | None = Field(default=None, alias="StartedAt")
    completed_at: AwareDatetime | None = Field(default=None, alias="CompletedAt")
    error_description: str | None = Field(default=None, alias="ErrorDescription")
    processing: ProcessingView | None = Field(default=None, alias="Processing")
    result: str | None = Field(default=None, alias="Result", description="the step's return value, as JSON text")
    configured_parameters: str | None = Field(default=None, alias="ConfiguredParameters")


class WorkDataProperties(Wire):
    owner_id: str | None = Field(default=None, alias="OwnerId")
    created_by: str | None = Field(default=None, alias="CreatedBy")
    name: str | None = Field(default=None, alias="Name")
    created_at: AwareDatetime | None = Field(default=None, alias="CreatedAt")
    size_in_bytes: int | None = Field(default=None, alias="SizeInBytes")
    tags: list[str] | None = Field(default=None, alias="Tags")
    media_type: str | None = Field(default=None, alias="MediaType")
    kind: WorkDataKind | None = Field(default=None, alias="Kind")
    is_deletable: bool | None = Field(default=None, alias="IsDeletable")
    is_used_as_job_input: bool | None = Field(default=None, alias="IsUsedAsJobInput")
    is_used_as_template_input: bool | None = Field(default=None, alias="IsUsedAsTemplateInput")
    hidden: bool | None = Field(default=None, alias="Hidden")
    secret: bool | None = Field(default=None, alias="Secret")
    comments: str | None = Field(default=None, alias="Comments")


class DataSpecification(Wire):
    """What a processing step's input or output slot holds."""

    name: str | None = Field(default=None, alias="Name")
    title: str | None = Field(default=None, alias="Title")
    description: str | None = Field(default=None, alias="Description")
    media_type: str | None = Field(default=None, alias="MediaType")
    is_collection: bool | None = Field(default=None, alias="IsCollection")
    min_slots: int | None = Field(default=None, alias="MinSlots")
    max_slots: int | None = Field(default=None, alias="MaxSlots")


class ProcessingStepProperties(Wire):
    title: str | None = Field(default=None, alias="Title")
    version: str | None = Field(default=None, alias="Version")
    function_name: str | None = Field(default=None, alias="FunctionName")
    short_description: str | None = Field(default=None, alias="ShortDescription")
    long_description: str | None = Field(default=None, alias="LongDescription")
    has_parameters: bool | None = Field(default=None, alias="HasParameters")
    is_public: bool | None = Field(default=None, alias="IsPublic")
    tags: list[str] | None = Field(default=None, alias="Tags")
    hidden: bool | None = Field(default=None, alias="Hidden")
    is_deprecated: bool | None = Field(default=None, alias="IsDeprecated")
    created_at: AwareDatetime | None = Field(default=None, alias="CreatedAt")
    last_modified_at: AwareDatetime | None = Field(default=None, alias="LastModifiedAt")
    parameter_schema: str | None = Field(default=None, alias="ParameterSchema")
    default_parameters: str | None = Field(default=None, alias="DefaultParameters")
    input_data_slot_specification: list[DataSpecification] | None = Field(
        default=None, alias="InputDataSlotSpecification"
    )
    output_data_slot_specification: list[DataSpecification] | None = Field(
        default=None, alias="OutputDataSlotSpecification"
    )
    deployment_state: str | None = Field(default=None, alias="DeploymentState")


class InputDataSlotProperties(Wire):
    name: str | None = Field(default=None, alias="Name")
    title: str | None = Field(default=None, alias="Title")
    description: str | None = Field(default=None, alias="Description")
    media_type: str | None = Field(default=None, alias="MediaType")
    is_configured: bool | None = Field(default=None, alias="IsConfigured")


class OutputDataSlotProperties(Wire):
    name: str | None = Field(default=None, alias="Name")
    title: str | None = Field(default=None, alias="Title")
    description: str | None = Field(default=None, alias="Description")
    media_type: str | None = Field(default=None, alias="MediaType")


class InfoProperties(Wire):
    api_version: str | None = Field(default=None, alias="ApiVersion")
    build_version: str | None = Field(default=None, alias="BuildVersion")
    organization_id: str | None = Field(default=None, alias="OrganizationId")
    tenant_id: str | None = Field(default=None, alias="TenantId")
    used_storage_in_bytes: int | None = Field(default=None, alias="UsedStorageInBytes")


class UserProperties(Wire):
    user_id: str | None = Field(default=None, alias="UserId")
    user_grants: list[str] | None = Field(default=None, alias="UserGrants")


class QueryResultProperties(Wire):
    """A page of a query (jobs, processing steps or WorkData)."""

    total_entities: int | None = Field(default=None, alias="TotalEntities")
    current_entities_count: int | None = Field(default=None, alias="CurrentEntitiesCount")
    previous_entities_count: int | None = Field(default=None, alias="PreviousEntitiesCount")
    remaining_tags: list[str] | None = Field(default=None, alias="RemainingTags")


class LogProperties(Wire):
    """A page of a job's log (PinexQ spells these lowercase)."""

    current: int | None = None
    total: int | None = None
    limit: int | None = None
    logs: list[dict[str, Any]] | None = None


class MetricsProperties(Wire):
    worker: str | None = None
    metrics: dict[str, Any] | None = None


# -- action parameters ----------------------------------------------------------------------------------------------


class CreateJobParameters(Wire):
    name: str | None = Field(alias="Name")
    folder: str | None = Field(default=None, alias="Folder")


class CreateSubJobParameters(Wire):
    name: str | None = Field(alias="Name")
    parent_job_url: str | None = Field(alias="ParentJobUrl")
    inherit_parent_folder: bool | None = Field(default=None, alias="InheritParentFolder")


class InputDataSlotParameter(Wire):
    index: int | None = Field(default=None, alias="Index")
    work_data_urls: list[str] | None = Field(default=None, alias="WorkDataUrls")


class RapidJobSetupParameters(Wire):
    """Create, configure and (with `Start`) start a job in one call; `Parameters` is JSON text, not an object."""

    name: str | None = Field(alias="Name")
    processing_step_url: str | None = Field(alias="ProcessingStepUrl")
    parent_job_url: str | None = Field(default=None, alias="ParentJobUrl")
    tags: list[str] | None = Field(default=None, alias="Tags")
    parameters: str | None = Field(default=None, alias="Parameters")
    allow_output_data_deletion: bool | None = Field(default=None, alias="AllowOutputDataDeletion")
    input_data_slots: list[InputDataSlotParameter] | None = Field(default=None, alias="InputDataSlots")
    start: bool | None = Field(default=None, alias="Start")


class Pagination(Wire):
    page_size: int | None = Field(default=None, alias="PageSize")
    page_offset: int | None = Field(default=None, alias="PageOffset")


class SortBy(Wire):
    property_name: str | None = Field(default=None, alias="PropertyName")
    sort_type: SortTypes | None = Field(default=None, alias="SortType")


class JobFilter(Wire):
    state: JobStates | None = Field(default=None, alias="State")
    name: str | None = Field(default=None, alias="Name")
    show_hidden: bool | None = Field(default=None, alias="ShowHidden")
    work_data_url: str | None = Field(default=None, alias="WorkDataUrl", description="jobs that read this WorkData")
    created_before: AwareDatetime | None = Field(default=None, alias="CreatedBefore")
    created_after: AwareDatetime | None = Field(default=None, alias="CreatedAfter")
    tags_by_and: list[str] | None = Field(default=None, alias="TagsByAnd")
    tags_by_or: list[str] | None = Field(default=None, alias="TagsByOr")
    processing_step_url: str | None = Field(default=None, alias="ProcessingStepUrl")
    is_sub_job: bool | None = Field(default=None, alias="IsSubJob")
    parent_job_url: str | None = Field(default=None, alias="ParentJobUrl")


class JobQueryParameters(Wire):
    pagination: Pagination | None = Field(default=None, alias="Pagination")
    sort_by: SortBy | None = Field(default=None, alias="SortBy")
    filter: JobFilter | None = Field(default=None, alias="Filter")
    include_remaining_tags: bool | None = Field(default=None, alias="IncludeRemainingTags")


class ProcessingStepFilter(Wire):
    function_name: str | None = Field(default=None, alias="FunctionName")
    function_name_match_type: str | None = Field(default=None, alias="FunctionNameMatchType")
    title_contains: str | None = Field(default=None, alias="TitleContains")
    version: str | None = Field(default=None, alias="Version")
    tags_by_and: list[str] | None = Field(default=None, alias="TagsByAnd")
    tags_by_or: list[str] | None = Field(default=None, alias="TagsByOr")
    show_deprecated: bool | None = Field(default=None, alias="ShowDeprecated")
    show_prerelease: bool | None = Field(default=None, alias="ShowPrerelease")


class ProcessingStepQueryParameters(Wire):
    pagination: Pagination | None = Field(default=None, alias="Pagination")
    sort_by: SortBy | None = Field(default=None, alias="SortBy")
    filter: ProcessingStepFilter | None = Field(default=None, alias="Filter")
    include_remaining_tags: bool | None = Field(default=None, alias="IncludeRemainingTags")


class WorkDataFilter(Wire):
    name_contains: str | None = Field(default=None, alias="NameContains")
    show_hidden: bool | None = Field(default=None, alias="ShowHidden")
    media_type_contains: str | None = Field(default=None, alias="MediaTypeContains")
    tags_by_and: list[str] | None = Field(default=None, alias="TagsByAnd")
    tags_by_or: list[str] | None = Field(default=None, alias="TagsByOr")
    is_kind: WorkDataKind | None = Field(default=None, alias="IsKind")
    is_deletable: bool | None = Field(default=None, alias="IsDeletable")
    is_used: bool | None = Field(default=None, alias="IsUsed")


class WorkDataQueryParameters(Wire):
    pagination: Pagination | None = Field(default=None, alias="Pagination")
    sort_by: SortBy | None = Field(default=None, alias="SortBy")
    filter: WorkDataFilter | None = Field(default=None, alias="Filter")
    include_remaining_tags: bool | None = Field(default=None, alias="IncludeRemainingTags")


class SelectProcessingParameters(Wire):
    processing_step_url: str | None = Field(alias="ProcessingStepUrl")


class SetTagsParameters(Wire):
    """`SetJobTagsParameters` and `SetTagsWorkDataParameters` (the same body)."""

    tags: list[str] | None = Field(alias="Tags")


class RenameParameters(Wire):
    """`RenameJobParameters` and `SetNameWorkDataParameters` (the same body)."""

    new_name: str | None = Field(alias="NewName")


class SetCommentParameters(Wire):
    comment: str | None = Field(default=None, alias="Comment")


class SetJobErrorStateParameters(Wire):
    message: str | None = Field(alias="Message")


class SelectWorkDataParameters(Wire):
    work_data_url: str | None = Field(alias="WorkDataUrl")


class SelectWorkDataCollectionParameters(Wire):
    work_data_urls: list[str] | None = Field(alias="WorkDataUrls")


class UploadWorkDataParameters(Wire):
    folder: str | None = Field(default=None, alias="Folder")
    tags: list[str] | None = Field(default=None, alias="Tags")
    secret: bool | None = Field(default=None, alias="Secret")


class ApiEvent(Wire):
    """One event of the event stream: what changed (`ResourceType` `Job`) and its `self` URL."""

    event_type: str = Field(alias="EventType")
    resource_type: str = Field(alias="ResourceType")
    resource_link: str = Field(alias="ResourceLink")


def utc(timestamp: float | None) -> datetime | None:
    """An epoch time as an aware UTC datetime (None stays None)."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
