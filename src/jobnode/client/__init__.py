"""`AsyncClient` and `Client`: one facade over any platform's jobs."""

from jobnode.client._async import AsyncArtifacts, AsyncClient, AsyncJobs, AsyncSteps, build_spec
from jobnode.client._cleanup import CleanupReport
from jobnode.client._sync import Artifacts, Client, Jobs, Steps

__all__ = [
    "Artifacts",
    "AsyncArtifacts",
    "AsyncClient",
    "AsyncJobs",
    "AsyncSteps",
    "CleanupReport",
    "Client",
    "Jobs",
    "Steps",
    "build_spec",
]
