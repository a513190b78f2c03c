"""The Dataiku DSS public API on the wire (`/dip/publicapi`): pydantic models with DSS's exact field names.

Fields are camelCase; times are integer milliseconds since the epoch, with `0` for "not yet" (a job that has not
ended has `endTime: 0`). A job's own description is its definition (`def`); its status wraps the definition with
the state (`baseStatus`) and counts its activities (`globalState`). Python attribute names are snake_case;
`to_wire()` gives the JSON body with the wire names. Unknown fields are ignored, as the API client does.

Example:
    ```python
    status = JobStatus.model_validate(response.json())
    status.base_status.state                    # "RUNNING"
    JobDefinitionBuilder("RECURSIVE_BUILD").with_output("sales", partition="2024-01-01").definition().to_wire()
    # {"type": "RECURSIVE_BUILD", "outputs": [{"id": "sales", "type": None, ...}], ...}
    ```
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

BuildType = Literal[
    "RECURSIVE_BUILD", "NON_RECURSIVE_FORCED_BUILD", "RECURSIVE_FORCED_BUILD", "RECURSIVE_MISSING_ONLY_BUILD"
]
OutputType = Literal["DATASET", "MANAGED_FOLDER", "SAVED_MODEL", "STREAMING_ENDPOINT", "KNOWLEDGE_BANK"]

#: job states (`state`, `baseStatus.state`); the API client's waiter stops on DONE, ABORTED and FAILED
NOT_STARTED, RUNNING, DONE, FAILED, ABORTED = "NOT_STARTED", "RUNNING", "DONE", "FAILED", "ABORTED"
TERMINAL_STATES = frozenset({DONE, FAILED, ABORTED})
#: the partition of a dataset that is not partitioned
NOT_PARTITIONED = "NP"
#: flow graph node types
DATASET_NODE, RECIPE_NODE = "COMPUTABLE_DATASET", "RUNNABLE_RECIPE"


class Wire(BaseModel):
    """A DSS body: built by wire name or attribute name; unknown fields are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body with the wire's field names (nulls included, as DSS sends them)."""
        return self.model_dump(mode="json", by_alias=True)


# -- starting a job -------------------------------------------------------------------------------------------------


class JobOutput(Wire):
    """One thing a job builds, as `start_job` sends it."""

    id: str = Field(min_length=1, description="the dataset's name")
    type: OutputType | None = Field(default=None, description="DATASET when not given")
    project_key: str | None = Field(default=None, alias="projectKey", description="the job's project when null")
    partition: str | None = Field(default=None, description="NP (or null) for a dataset that is not partitioned")


class JobDefinition(Wire):
    """The body of `POST /projects/{projectKey}/jobs/`: what to build and how."""

    type: BuildType
    outputs: list[JobOutput] = Field(min_length=1)
    refresh_hive_metastore: bool = Field(default=False, alias="refreshHiveMetastore")
    auto_update_schema: bool = Field(default=False, alias="autoUpdateSchemaBeforeEachRecipeRun")


class JobDefinitionBuilder:
    """Builds a `JobDefinition` step by step, as the API client's `project.new_job(...)` does.

    Example:
        ```python
        definition = JobDefinitionBuilder("RECURSIVE_BUILD").with_output("sales", partition="2024-01-01").definition()
        job = await backend.start_job(definition)
        ```
    """

    def __init__(self, job_type: BuildType = "NON_RECURSIVE_FORCED_BUILD") -> None:
        self._type: BuildType = job_type
        self._outputs: list[JobOutput] = []
        self._refresh_hive_metastore = False
        self._auto_update_schema = False

    def with_type(self, job_type: BuildType) -> Self:
        self._type = job_type
        return self

    def with_output(
        self,
        name: str,
        object_type: OutputType | None = None,
        object_project_key: str | None = None,
        partition: str | None = None,
    ) -> Self:
        """Build `name` (a dataset unless `object_type` says otherwise), in `partition` when it is partitioned."""
        self._outputs.append(JobOutput(id=name, type=object_type, project_key=object_project_key, partition=partition))
        return self

    def with_refresh_metastore(self, refresh_metastore: bool) -> Self:
        self._refresh_hive_metastore = refresh_metastore
        return self

    def with_auto_update_schema_before_each_recipe_run(self, auto_update: bool) -> Self:
        self._auto_update_schema = auto_update
        return self

    def definition(self) -> JobDefinition:
        """The definition built so far.

        Raises:
            ValueError: no output was added (a job builds at least one thing).
        """
        if not self._outputs:
            raise ValueError("outputs: a job builds at least one output; call with_output(...) first")
        return JobDefinition(
            type=self._type,
            outputs=list(self._outputs),
            refresh_hive_metastore=self._refresh_hive_metastore,
            auto_update_schema=self._auto_update_schema,
        )


# -- a job as DSS describes it --------------------------------------------------------------------------------------


class TargetRef(Wire):
    """An output of a started job (`def.outputs`)."""

    target_dataset: str = Field(alias="targetDataset")
    target_dataset_project_key: str = Field(alias="targetDatasetProjectKey")
    target_partition: str | None = Field(default=None, alias="targetPartition")
    type: str = "DATASET"


class JobDef(Wire):
    """A started job's definition: what `start_job` answers, and `def` in listings and statuses."""

    id: str
    project_key: str = Field(alias="projectKey")
    type: str = ""
    name: str = ""
    initiator: str = ""
    triggered_from: str = Field(default="API", alias="triggeredFrom")
    initiation_timestamp: int = Field(default=0, alias="initiationTimestamp")
    mail_notification: bool = Field(default=False, alias="mailNotification")
    outputs: list[TargetRef] = Field(default_factory=list)
    refresh_hive_metastore: bool = Field(default=False, alias="refreshHiveMetastore")
    refresh_intermediate_mirrors: bool = Field(default=True, alias="refreshIntermediateMirrors")
    refresh_target_mirrors: bool = Field(default=True, alias="refreshTargetMirrors")
    auto_update_schema: bool = Field(default=False, alias="autoUpdateSchemaBeforeEachRecipeRun")


class DatasetRef(Wire):
    """A dataset partition that an activity reads or builds."""

    project_key: str = Field(alias="projectKey")
    dataset_name: str = Field(alias="datasetName")
    partition: str = NOT_PARTITIONED


class Activity(Wire):
    """One recipe run of a job: it builds one dataset partition from its sources."""

    activity_id: str = Field(alias="activityId")
    activity_type: str = Field(default="recipe", alias="activityType")
    recipe_name: str | None = Field(default=None, alias="recipeName")
    recipe_type: str | None = Field(default=None, alias="recipeType")
    state: str = NOT_STARTED
    start_time: int = Field(default=0, alias="startTime")
    end_time: int = Field(default=0, alias="endTime")
    warnings_count: int = Field(default=0, alias="warningsCount")
    targets: list[DatasetRef] = Field(default_factory=list)
    sources: list[DatasetRef] = Field(default_factory=list)
    error_message: str | None = Field(default=None, alias="errorMessage")


class BaseStatus(Wire):
    definition: JobDef = Field(alias="def")
    state: str = ""
    stable_state: bool = Field(default=False, alias="stableState")
    start_time: int = Field(default=0, alias="startTime")
    end_time: int = Field(default=0, alias="endTime")
    warnings_count: int = Field(default=0, alias="warningsCount")
    activities: dict[str, Activity] = Field(default_factory=dict)


class GlobalState(Wire):
    """How many of the job's activities are in each state."""

    done: int = 0
    failed: int = 0
    running: int = 0
    not_started: int = Field(default=0, alias="notStarted")
    aborted: int = 0
    total: int = 0


class JobStatus(Wire):
    """`GET /projects/{projectKey}/jobs/{jobId}/`."""

    base_status: BaseStatus = Field(alias="baseStatus")
    global_state: GlobalState | None = Field(default=None, alias="globalState")


class JobSummary(Wire):
    """One item of `GET /projects/{projectKey}/jobs/` (and of the running-jobs listings)."""

    definition: JobDef = Field(alias="def")
    state: str = ""
    stable_state: bool = Field(default=False, alias="stableState")
    start_time: int = Field(default=0, alias="startTime")
    end_time: int = Field(default=0, alias="endTime")
    warnings_count: int = Field(default=0, alias="warningsCount")
    job_id: str | None = Field(default=None, alias="jobId")
    project_key: str | None = Field(default=None, alias="projectKey")


# -- datasets and the flow ------------------------------------------------------------------------------------------


class SchemaColumn(Wire):
    name: str
    type: str = "string"


class Schema(Wire):
    """`GET /projects/{projectKey}/datasets/{name}/schema`."""

    columns: list[SchemaColumn] = Field(default_factory=list)
    user_modified: bool = Field(default=False, alias="userModified")


class FlowNode(Wire):
    """A dataset or a recipe of a project's flow, with the names of what comes before and after it."""

    ref: str
    type: str
    predecessors: list[str] = Field(default_factory=list)
    successors: list[str] = Field(default_factory=list)


class FlowGraph(Wire):
    """`GET /projects/{projectKey}/flow/graph/`: the flow's nodes by name.

    Example:
        ```python
        graph = FlowGraph.model_validate(response.json())
        graph.recipe_outputs("compute_sales")   # ["sales"]
        ```
    """

    nodes: dict[str, FlowNode] = Field(default_factory=dict)

    def recipes(self) -> list[str]:
        return sorted(name for name, node in self.nodes.items() if node.type == RECIPE_NODE)

    def is_recipe(self, name: str) -> bool:
        node = self.nodes.get(name)
        return node is not None and node.type == RECIPE_NODE

    def recipe_inputs(self, recipe: str) -> list[str]:
        """The datasets a recipe reads."""
        return [n for n in self.nodes[recipe].predecessors if self._is_dataset(n)]

    def recipe_outputs(self, recipe: str) -> list[str]:
        """The datasets a recipe builds."""
        return [n for n in self.nodes[recipe].successors if self._is_dataset(n)]

    def is_source(self, dataset: str) -> bool:
        """Whether no recipe builds the dataset (its data is uploaded or lives in a connection)."""
        node = self.nodes.get(dataset)
        return node is not None and not any(self.is_recipe(p) for p in node.predecessors)

    def downstream(self, dataset: str) -> list[str]:
        """The datasets built directly from `dataset` (by the recipes that read it)."""
        node = self.nodes.get(dataset)
        if node is None:
            return []
        found = [out for recipe in node.successors if self.is_recipe(recipe) for out in self.recipe_outputs(recipe)]
        return list(dict.fromkeys(found))

    def _is_dataset(self, name: str) -> bool:
        node = self.nodes.get(name)
        return node is not None and node.type == DATASET_NODE


# -- errors -----------------------------------------------------------------------------------------------------------


class ErrorBody(Wire):
    """What DSS answers with a status of 400 or more; the API client shows `errorType: detailedMessage`."""

    error_type: str = Field(alias="errorType")
    message: str
    detailed_message: str = Field(alias="detailedMessage")
