"""`AsyncClient` and `Client`: one facade over any platform's jobs."""

from jobnode.client._async import AsyncArtifacts, AsyncClient, AsyncJobs, build_spec
from jobnode.client._cleanup import CleanupReport
from jobnode.client._sync import Artifacts, Client, Jobs

__all__ = ["Artifacts", "AsyncArtifacts", "AsyncClient", "AsyncJobs", "CleanupReport", "Client", "Jobs", "build_spec"]
