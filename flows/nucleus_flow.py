"""Scale Nucleus's async-job pipeline as a Prefect flow: append items to a dataset, then annotate them once the
append has finished, and bring the annotate's errors into the run's log and artifacts.

This is the pipeline of Nucleus's own guide (`append`, `sleep_until_complete()`, `annotate`,
`sleep_until_complete()`, `errors()` when it raised `JobError`) with Prefect's waits, logs and artifacts: a job that
ends `Errored_*` fails its wait with its message (`jobnode.JobFailed`), after its errors have reached the log.

    python flows/nucleus_flow.py --block nucleus     # a saved NucleusCredentials block (Scale API key, dataset_id)
    JOBNODE_TOKEN=... python flows/nucleus_flow.py --url http://127.0.0.1:8765/v1/nucleus --dataset-id ds_...

A `NucleusCredentials` block says where Nucleus is (or the local `jobnode serve --platform nucleus`, at
`http://127.0.0.1:8765/v1/nucleus`), the API key and the dataset. The images are placeholders: on Nucleus, name
images it can read. Nucleus cannot cancel or delete jobs: cancelling the flow run, and the clean-up, say so in the
run's log and leave the jobs (and what they uploaded) as they are.
"""

# No `from __future__ import annotations` here: Prefect builds a flow's parameter model from its annotations,
# and a deployment's flow run loads this file where string annotations cannot be resolved.

import argparse
from typing import Any

from prefect import flow

from jobnode import JobnodeError
from jobnode.prefect import (
    NucleusCredentials,
    cancel_remote_jobs,
    cleanup_jobs_sync,
    fetch_job_logs_sync,
    submit_job_sync,
    wait_for_job_sync,
)

#: the images to append (`DatasetItem.to_payload()`: a reference id, the image's URL, metadata)
ITEMS = [
    {
        "reference_id": f"street_{i:03d}",
        "image_url": f"s3://my-bucket/street/{i:03d}.jpg",
        "metadata": {"camera": i % 2},
    }
    for i in range(6)
]


def boxes(items: list[dict[str, Any]], label: str = "car") -> list[dict[str, Any]]:
    """A box around a car in each image (`BoxAnnotation.to_payload()`), named by its item's reference id."""
    return [
        {
            "label": label,
            "type": "box",
            "geometry": {"x": 50 + i, "y": 60, "width": 70, "height": 80},
            "reference_id": item["reference_id"],
            "annotation_id": f"{label}_{i:03d}",
            "metadata": {},
        }
        for i, item in enumerate(items)
    ]


@flow(name="jobnode-nucleus-example", on_cancellation=[cancel_remote_jobs()], log_prints=True)
def nucleus_flow(
    credentials: NucleusCredentials,
    items: list[dict[str, Any]] | None = None,
    annotations: list[dict[str, Any]] | None = None,
    dataset_id: str | None = None,
    poll_interval: float = 5.0,
) -> dict[str, Any]:
    """Append `items` to the dataset (`dataset_id`, else the block's), wait until the append has completed, then
    annotate them (by default a box in each) and wait, polling every `poll_interval` seconds (the SDK's waiter
    polls every 5); returns the two jobs' ids and the annotate's state."""
    items = items if items is not None else ITEMS
    upload = {"dataset_id": dataset_id} if dataset_id else {}
    appended = submit_job_sync(credentials=credentials, step="append", params=upload, items=items)
    appended = wait_for_job_sync(appended.id, credentials=credentials, poll_interval=poll_interval)
    annotated = submit_job_sync(
        credentials=credentials, step="annotate", params=upload, items=annotations or boxes(items)
    )
    try:
        annotated = wait_for_job_sync(annotated.id, credentials=credentials, poll_interval=poll_interval)
    except JobnodeError:
        print("failed to upload annotations; all job errors follow")
        fetch_job_logs_sync(annotated.id, credentials=credentials)
        raise
    cleanup_jobs_sync([annotated.id, appended.id], credentials=credentials)
    print(f"appended {len(items)} items ({appended.id}) and annotated them ({annotated.id})")
    return {"append": appended.id, "annotate": annotated.id, "state": annotated.state.value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--block", help="a saved NucleusCredentials block (default: --url and JOBNODE_TOKEN)")
    parser.add_argument("--url", help="the Nucleus API, e.g. http://127.0.0.1:8765/v1/nucleus (default: Scale's)")
    parser.add_argument("--dataset-id", help="the dataset (default: the block's)")
    args = parser.parse_args()
    if args.block:
        credentials = NucleusCredentials.load(args.block)
    else:
        given = {"url": args.url, "dataset_id": args.dataset_id}
        credentials = NucleusCredentials(**{k: v for k, v in given.items() if v})
    nucleus_flow(credentials=credentials, dataset_id=args.dataset_id)


if __name__ == "__main__":
    main()
