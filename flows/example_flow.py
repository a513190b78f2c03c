"""Two batch jobs as a Prefect flow: stage reviews, then score their sentiment, on the platform the credentials name.

The `credentials` block picks the platform: a `JobnodeCredentials` block (or `JOBNODE_URL` and `JOBNODE_TOKEN`)
runs the jobs on the local job service, a `NexusCredentials` block on Datature Nexus. Where the staging job produces
an output artifact (the local service), the scoring job reads it (`artifacts=[...]`), so the service records the
lineage and the clean-up at the end deletes them in the right order; where results go to a webhook instead (Nexus),
the scoring job reads the staging job's own input, the dataset the reviews were uploaded as. The clean-up runs
whether the jobs succeeded or not (a `finally`, as a teardown task would in Airflow), and a failed job still fails
the flow run; a retry of the flow run reattaches to a job that still runs and starts a new one after a failure.

    python flows/example_flow.py            # run it once (starts a temporary Prefect server if none is set)
    python flows/example_flow.py --serve    # serve it with its nightly cron schedule (against `prefect server start`)
    python flows/example_flow.py --serve --cron "*/5 * * * *"    # on another schedule

Both need `JOBNODE_URL` and `JOBNODE_TOKEN`, or a saved credentials block passed as `credentials` (in a deployment's
parameters: `{"credentials": {"$ref": {"block_document_id": "..."}}}`). `flows/prefect.yaml` declares the same
deployment for `prefect deploy`.
"""

# No `from __future__ import annotations` here: Prefect builds a flow's parameter model from its annotations,
# and a deployment's flow run loads this file where string annotations cannot be resolved.

import argparse
from collections import Counter

from prefect import flow, task

from jobnode.prefect import (
    JobnodeCredentials,
    cancel_remote_jobs,
    cleanup_jobs_sync,
    fetch_job_logs_sync,
    submit_job_sync,
    wait_for_job_sync,
)

NIGHTLY = "0 3 * * *"

REVIEWS = [
    "The delivery was great and fast.",
    "Support was terrible, I want a refund.",
    "This product is not bad at all.",
    "Honestly the app is slow and broken.",
    "The hotel room was lovely, I would recommend it.",
    "The delivery was okay I guess.",
    "Support was awful and rude.",
    "This product is perfect, the best.",
    "Honestly the app is not good.",
    "The hotel room was fine.",
]


@task(name="Count sentiment labels")
def count_labels(artifact_id: str, credentials: JobnodeCredentials | None) -> dict[str, int]:
    """How many reviews got each label, read from the scoring job's output artifact."""
    with (credentials or JobnodeCredentials()).get_client() as client:
        return dict(Counter(record["label"] for record in client.artifacts.read(artifact_id)))


@flow(name="jobnode-example", on_cancellation=[cancel_remote_jobs()], log_prints=True)
def example_flow(
    reviews: list[str] | None = None, credentials: JobnodeCredentials | None = None, cleanup: bool = True
) -> dict[str, int]:
    """Stage the reviews with one job, score them with a second job that reads the first one's output (or, where
    the platform delivers results to a webhook, the same input), show the logs and counts, then clean both jobs up
    (their outputs go too: nothing else consumes them), also when a job failed. `credentials` may be any platform's
    credentials block."""
    items = [{"id": f"review-{i:03d}", "text": text} for i, text in enumerate(reviews or REVIEWS)]
    started: list[str] = []
    try:
        staged = submit_job_sync(
            credentials=credentials, name="stage-reviews", step="identity", items=items, batch_size=50
        )
        started.append(staged.id)
        staged = wait_for_job_sync(staged.id, credentials=credentials, timeout=300)
        scoring_input = staged.outputs or staged.inputs
        scored = submit_job_sync(
            credentials=credentials,
            name="score-reviews",
            step="sentiment",
            artifacts=[artifact.id for artifact in scoring_input],
            batch_size=5,
        )
        started.append(scored.id)
        scored = wait_for_job_sync(scored.id, credentials=credentials, timeout=300)
        fetch_job_logs_sync(scored.id, credentials=credentials)
        if not scored.outputs:
            print(f"the sentiment of {len(items)} reviews went to the platform's webhook (job {scored.id})")
            return {}
        labels = count_labels(scored.outputs[0].id, credentials)
        print(f"sentiment of {len(items)} reviews: {labels}")
        return labels
    finally:
        if cleanup and started:
            cleanup_jobs_sync(started, credentials=credentials)  # consumers first, whatever the order here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="serve the flow on its schedule")
    parser.add_argument("--cron", default=NIGHTLY, help=f"the schedule when serving (default {NIGHTLY!r})")
    args = parser.parse_args()
    if args.serve:
        example_flow.serve(name="nightly", cron=args.cron, tags=["jobnode"])
    else:
        example_flow()


if __name__ == "__main__":
    main()
