"""Rebuild a Dataiku DSS dataset from a Prefect flow: what a DSS user scripts with the API client (abort the builds
that have not ended, `start_job`, wait, `get_log`), as the tasks of a flow.

The project's flow (the `project_key` of the `DataikuCredentials` block) is the reviews flow: the uploaded dataset
`reviews` holds the reviews, the recipe `identity` builds `reviews_staged` from it, and the recipe `sentiment`
builds `reviews_scored` from that. The flow aborts the project's builds that have not ended, rebuilds
`reviews_scored` with a recursive build (each recipe runs as an activity of the job, upstream first), publishes the
build log as artifacts of the flow run, counts the labels of the rebuilt dataset and clears what the build wrote,
under the flow's lineage (the uploaded reviews stay).

    python flows/dataiku_flow.py --block dss-reviews   # a saved DataikuCredentials block

Against the local service instead of DSS, declare the flow (see `dags/jobnode_dataiku_example.py`), serve it with
`JOBNODE_DATAIKU_FLOW=reviews.toml jobnode serve --platform dataiku`, upload the reviews into `reviews`, and save a
block whose URL is the service's.
"""

# No `from __future__ import annotations` here: Prefect builds a flow's parameter model from its annotations.

import argparse
from collections import Counter

from prefect import flow, task

from jobnode.prefect import (
    DataikuCredentials,
    cleanup_jobs_sync,
    fetch_job_logs_sync,
    submit_job_sync,
    wait_for_job_sync,
)


@task(name="Abort unfinished DSS builds")
def abort_unfinished_builds(credentials: DataikuCredentials) -> list[str]:
    """The guide's "abort all jobs currently being processed": a rebuild must not race an earlier one."""
    with credentials.get_client() as client:
        running = client.jobs.list(state=["queued", "running"]).data
        return [client.jobs.cancel(job.id).id for job in running]


@task(name="Count sentiment labels")
def count_labels(dataset: str, credentials: DataikuCredentials) -> dict[str, int]:
    """How many reviews got each label, read from the rebuilt dataset."""
    with credentials.get_client() as client:
        return dict(Counter(row["label"] for row in client.artifacts.read(dataset)))


@flow(name="jobnode-dataiku", log_prints=True)
def dataiku_flow(
    credentials: DataikuCredentials, target: str = "reviews_scored", cleanup: bool = True
) -> dict[str, int]:
    """Rebuild `target` and what it is built from, show the build log and the labels, then clear what was built."""
    aborted = abort_unfinished_builds(credentials)
    if aborted:
        print(f"aborted the builds that had not ended: {', '.join(aborted)}")
    job = submit_job_sync(
        credentials=credentials,
        name="rebuild-scores",
        step="sentiment",  # the recipe that builds reviews_scored
        artifacts=["reviews_staged"],  # what it reads, in the block's project
        params={"type": "RECURSIVE_FORCED_BUILD"},  # rebuild reviews_staged first
    )
    job = wait_for_job_sync(job.id, credentials=credentials, timeout=1800)
    fetch_job_logs_sync(job.id, credentials=credentials)
    [dataset] = [output.id for output in job.outputs if output.name == target]
    labels = count_labels(dataset, credentials)
    print(f"labels of {dataset}: {labels}")
    if cleanup:
        cleanup_jobs_sync([job.id], credentials=credentials)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--block", required=True, help="the name of a saved DataikuCredentials block")
    dataiku_flow(credentials=DataikuCredentials.load(parser.parse_args().block))


if __name__ == "__main__":
    main()
