"""jobnode: remote batch jobs as first-class nodes of Airflow DAGs and Prefect flows.

Example:
    ```python
    import jobnode

    with jobnode.Client("http://127.0.0.1:8765") as client:
        job = client.jobs.create(name="nightly", step="sentiment", items=["good", "bad"])
        job = client.jobs.wait(job.id, timeout=600)
    ```
"""

from jobnode.client import AsyncClient, Client, build_spec
from jobnode.core.errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    Conflict,
    JobFailed,
    JobnodeError,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    UnsupportedOperation,
    ValidationFailed,
    WaitTimeout,
)
from jobnode.core.models import (
    Artifact,
    ArtifactRef,
    DeletePlan,
    Job,
    JobError,
    JobEvent,
    JobResult,
    JobSpec,
    JobState,
    LogEntry,
    LogLevel,
    Page,
    Progress,
)
from jobnode.service.steps import BatchContext, ItemError, batch_context, item_guard, step

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Artifact",
    "ArtifactRef",
    "AsyncClient",
    "AuthenticationError",
    "BadRequest",
    "BatchContext",
    "Client",
    "ConfigurationError",
    "Conflict",
    "DeletePlan",
    "ItemError",
    "Job",
    "JobError",
    "JobEvent",
    "JobFailed",
    "JobResult",
    "JobSpec",
    "JobState",
    "JobnodeError",
    "LogEntry",
    "LogLevel",
    "NotFound",
    "Page",
    "Progress",
    "RateLimited",
    "ServerError",
    "TransportError",
    "UnsupportedOperation",
    "ValidationFailed",
    "WaitTimeout",
    "batch_context",
    "build_spec",
    "item_guard",
    "step",
]
