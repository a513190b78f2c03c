"""`AsyncClient` and `Client`: one facade over any platform's jobs, and the job behaviours every integration shares
(submit-or-reattach, waits that cancel on timeout, failure reports, log lines and summaries), and the one bridge
from sync code to them (`Portal`, `run_sync`)."""

from jobnode.client._async import AsyncArtifacts, AsyncClient, AsyncJobs, AsyncSteps, build_spec
from jobnode.client._attach import Attached, request_digest
from jobnode.client._bridge import Portal, run_sync
from jobnode.client._cleanup import CleanupReport
from jobnode.client._logs import LogSummary, LogTally, format_entry
from jobnode.client._outcome import CancelledOnTimeout, CancelOutcome, error_lines, failure_report
from jobnode.client._shared import shared_client
from jobnode.client._sync import Artifacts, Client, Jobs, Steps
from jobnode.client._watcher import JobGone

__all__ = [
    "Artifacts",
    "AsyncArtifacts",
    "AsyncClient",
    "AsyncJobs",
    "AsyncSteps",
    "Attached",
    "CancelOutcome",
    "CancelledOnTimeout",
    "CleanupReport",
    "Client",
    "JobGone",
    "Jobs",
    "LogSummary",
    "LogTally",
    "Portal",
    "Steps",
    "build_spec",
    "error_lines",
    "failure_report",
    "format_entry",
    "request_digest",
    "run_sync",
    "shared_client",
]
