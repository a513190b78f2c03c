"""PinexQ jobs as a Prefect flow: one job's output WorkData is read by two others, and the clean-up deletes what
PinexQ's rules allow and keeps what is still used.

What a PinexQ user does (select a processing step by name and version, configure its parameters, tag the job,
start it, wait through the platform's event stream, read the result), as Prefect tasks:

1. the reviews are uploaded as WorkData and staged by the processing step `identity` (its output WorkData holds
   them);
2. `sentiment` (version 1, `top_k=2`) scores the staged reviews, and the labels are counted from its output;
3. an archive job reads the staged reviews too, and outlives the flow run;
4. the clean-up of the staging and the scoring jobs deletes the scoring job with its output, and keeps the staging
   job and its output: PinexQ deletes WorkData only while no job reads it, and the archive job still does.

    python flows/pinexq_flow.py --block pinexq     # a saved `PinexQCredentials` block named "pinexq"

Against the local service's emulator (`jobnode serve --platform pinexq`), the block's URL is the service's URL and
its API key the service's token.
"""

# No `from __future__ import annotations` here: Prefect builds a flow's parameter model from its annotations.

import argparse
from collections import Counter
from typing import Any

from prefect import flow, task

from jobnode.prefect import (
    PinexQCredentials,
    cancel_remote_jobs,
    cleanup_jobs_sync,
    submit_job_sync,
    wait_for_job_sync,
)

REVIEWS = [
    "The delivery was great and fast.",
    "Support was terrible, I want a refund.",
    "This product is not bad at all.",
    "Honestly the app is slow and broken.",
    "The hotel room was lovely, I would recommend it.",
    "Support was awful and rude.",
]


@task(name="Count sentiment labels")
def count_labels(workdata_id: str, credentials: PinexQCredentials) -> dict[str, int]:
    """How many reviews got each label, read from the scoring job's output WorkData."""
    with credentials.get_client() as client:
        return dict(Counter(record["label"] for record in client.artifacts.read(workdata_id)))


@flow(name="jobnode-pinexq-example", on_cancellation=[cancel_remote_jobs()], log_prints=True)
def pinexq_flow(credentials: PinexQCredentials, reviews: list[str] | None = None) -> dict[str, Any]:
    """Stage the reviews, score and archive them on PinexQ, count the labels, then clean up the staging and scoring
    jobs; returns the labels and what the clean-up deleted and kept."""
    items = [{"id": f"review-{i:03d}", "text": text} for i, text in enumerate(reviews or REVIEWS)]
    staged = submit_job_sync(
        credentials=credentials, name="stage-reviews", step="identity", items=items, tags=["reviews"]
    )
    staged = wait_for_job_sync(staged.id, credentials=credentials, timeout=300)
    staged_reviews = [output.id for output in staged.outputs]
    scored = submit_job_sync(
        credentials=credentials,
        name="score-reviews",
        step="sentiment",
        step_version="1",
        params={"top_k": 2},
        artifacts=staged_reviews,
        tags=["reviews"],
    )
    archived = submit_job_sync(
        credentials=credentials, name="archive-reviews", step="identity", artifacts=staged_reviews, tags=["archive"]
    )
    scored = wait_for_job_sync(scored.id, credentials=credentials, timeout=300)
    wait_for_job_sync(archived.id, credentials=credentials, timeout=300)
    labels = count_labels(scored.outputs[0].id, credentials)
    print(f"sentiment of {len(items)} reviews: {labels}")
    report = cleanup_jobs_sync([scored.id, staged.id], credentials=credentials)
    for kept in report.kept:
        print(f"kept {kept.id}: {kept.reason}")
    return {"labels": labels, "deleted": report.deleted_jobs, "kept": [k.id for k in report.kept]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--block", default="pinexq", help="the name of a saved PinexQCredentials block")
    pinexq_flow(credentials=PinexQCredentials.load(parser.parse_args().block))


if __name__ == "__main__":
    main()
