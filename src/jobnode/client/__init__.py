"""`AsyncClient` and `Client`: one facade over any platform's jobs."""

from jobnode.client._async import AsyncArtifacts, AsyncClient, AsyncJobs, AsyncSteps, build_spec
from jobnode.client._cleanup import CleanupReport
from jobnode.client._shared import shared_client
from jobnode.client._sync import Artifacts, Client, Jobs, Steps
from jobnode.client._watcher import JobGone

__all__ = [
    "Artifacts",
    "AsyncArtifacts",
    "AsyncClient",
    "AsyncJobs",
    "AsyncSteps",
    "CleanupReport",
    "Client",
    "JobGone",
    "Jobs",
    "Steps",
    "build_spec",
    "shared_client",
]
