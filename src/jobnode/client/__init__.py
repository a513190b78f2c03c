"""`AsyncClient` and `Client`: one facade over any platform's jobs."""

from jobnode.client._async import AsyncArtifacts, AsyncClient, AsyncJobs, build_spec
from jobnode.client._cleanup import CleanupReport
from jobnode.client._shared import shared_client
from jobnode.client._sync import Artifacts, Client, Jobs
from jobnode.client._watcher import JobGone

__all__ = [
    "Artifacts",
    "AsyncArtifacts",
    "AsyncClient",
    "AsyncJobs",
    "CleanupReport",
    "Client",
    "JobGone",
    "Jobs",
    "build_spec",
    "shared_client",
]
