"""Classify the images of an S3 folder with a Cortex Batch API, as a Prefect flow: what a Cortex user does by hand
(a dry run to see which files the job reads, the job over S3 files filtered by include and exclude globs, waiting
for it, reading the results it wrote to `dest_s3_dir`), with progress in Prefect's UI.

The `credentials` block is a `CortexCredentials` one: the endpoint where the Batch APIs answer, and the S3 directory
the jobs write their results to (sent as each job's `config.dest_s3_dir`; a job's results land in
`<dest_s3_dir>/<job_id>/`). Without one, an unsaved block reads `JOBNODE_URL` (and `JOBNODE_TOKEN`).

    python flows/cortex_flow.py --images s3://my-bucket/images/ --include '**.jpg' --exclude '**_3.jpg'

Against the local service instead of a cluster: `jobnode serve --platform cortex --steps my_classifier`, where
`my_classifier` registers a step named after the Batch API (`image-classifier`). Reading S3 (the service, and this
flow's `count_classes`) is configured the fsspec way: `FSSPEC_S3_ENDPOINT_URL` and the usual `AWS_*` variables.
"""

# No `from __future__ import annotations` here: Prefect builds a flow's parameter model from its annotations.

import argparse
from collections import Counter

from prefect import flow, task

from jobnode.prefect import CortexCredentials, submit_job_sync, wait_for_job_sync


@task(name="Dry run a Cortex job")
def dry_run(
    api_name: str, images: str, includes: list[str], excludes: list[str], credentials: CortexCredentials
) -> list[str]:
    """Cortex's dry run (`?dryRun=true`): the files the job will read, checked by Cortex; nothing is submitted."""
    with credentials.get_client() as client:
        plan = client.jobs.plan(step=api_name, files=[images], includes=includes, excludes=excludes)
    return plan.files


@task(name="Count image classes")
def count_classes(output: str, credentials: CortexCredentials) -> dict[str, int]:
    """How many images got each class, read from the results the job wrote to `<dest_s3_dir>/<job_id>/`."""
    with credentials.get_client() as client:
        return dict(Counter(record["class"] for record in client.artifacts.read(output)))


@flow(name="cortex-image-classification", log_prints=True)
def classify_images(
    images: str = "s3://bucket/images/",
    includes: list[str] | None = None,
    excludes: list[str] | None = None,
    api_name: str = "image-classifier",
    credentials: CortexCredentials | None = None,
) -> dict[str, int]:
    """Classify the images under `images` that match one of `includes` (default `**.jpg`) and none of `excludes`
    (default `**_3.jpg`) with the Batch API `api_name`, and count the classes it gave them."""
    credentials = credentials or CortexCredentials()
    includes = ["**.jpg"] if includes is None else includes
    excludes = ["**_3.jpg"] if excludes is None else excludes
    files = dry_run(api_name, images, includes, excludes, credentials)
    print(f"{api_name} will read {len(files)} file(s): {', '.join(files)}")
    job = submit_job_sync(
        credentials=credentials,
        step=api_name,
        files=[images],
        includes=includes,
        excludes=excludes,
        batch_size=2,
        workers=2,
        timeout=3600,
    )
    job = wait_for_job_sync(job.id, credentials=credentials, timeout=1800)
    if not job.outputs:
        raise ValueError(f"job {job.id} wrote no results: set dest_s3_dir on the credentials block")
    classes = count_classes(job.outputs[0].id, credentials)
    print(f"classes of the {len(files)} image(s): {classes}")
    return classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default="s3://bucket/images/", help="the S3 folder (or key prefix) of images")
    parser.add_argument("--include", action="append", help="a glob pattern an image must match (repeatable)")
    parser.add_argument("--exclude", action="append", help="a glob pattern that drops an image (repeatable)")
    parser.add_argument("--api-name", default="image-classifier", help="the Batch API that classifies")
    args = parser.parse_args()
    classify_images(images=args.images, includes=args.include, excludes=args.exclude, api_name=args.api_name)


if __name__ == "__main__":
    main()
