"""The deployments that the end-to-end test serves: `run_batch_job`, and a flow that submits a job and then holds
without watching it, so that only its `on_cancellation` hook can stop the job.

    python -m tests.e2e.prefect.served_flows    # with PREFECT_API_URL, JOBNODE_URL and JOBNODE_TOKEN set
"""

# No `from __future__ import annotations`: Prefect builds the flows' parameter models from their annotations.

import time

from prefect import flow, serve

from jobnode.core.models import JobSpec
from jobnode.prefect import cancel_remote_jobs, run_batch_job, submit_job_sync


@flow(name="submit-and-hold", on_cancellation=[cancel_remote_jobs()])
def submit_and_hold(spec: JobSpec) -> None:
    submit_job_sync(spec)
    time.sleep(600)


if __name__ == "__main__":
    serve(run_batch_job.to_deployment(name="e2e"), submit_and_hold.to_deployment(name="e2e"))
