"""Classify the images of an S3 folder with a Cortex Batch API, as an Airflow DAG: what a Cortex user does by hand
(a dry run to see which files the job reads, the job over S3 files filtered by include and exclude globs, waiting
for it, reading the results it wrote to `dest_s3_dir`), with the waiting done by the triggerer.

The connection is a `jobnode_cortex` one: the endpoint where the Batch APIs answer, and the S3 directory the jobs
write their results to (sent as each job's `config.dest_s3_dir`; a job's results land in `<dest_s3_dir>/<job_id>/`).

    export AIRFLOW_CONN_JOBNODE_CORTEX_DEFAULT='{"conn_type": "jobnode_cortex",
        "host": "https://a1b2c3d4.elb.us-west-2.amazonaws.com", "extra": {"dest_s3_dir": "s3://my-bucket/results"}}'
    airflow dags test jobnode_cortex_example
    airflow dags test jobnode_cortex_example --conf '{"images": "s3://my-bucket/images/", "excludes": []}'

Against the local service instead of a cluster: `jobnode serve --platform cortex --steps my_classifier`, where
`my_classifier` registers a step named after the Batch API (`image-classifier`), and the connection's host is the
service's URL (with its token as the password). Reading S3 (the service, and this DAG's `count_classes`) is
configured the fsspec way: `FSSPEC_S3_ENDPOINT_URL` and the usual `AWS_*` variables.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, task

from jobnode.airflow.operators import JobnodeSubmitJobOperator

CONN_ID = "{{ params.jobnode_conn_id }}"

with DAG(
    dag_id="jobnode_cortex_example",
    description="A Cortex Batch API job over S3 images filtered by globs: dry run, classify, count the classes.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    params={
        "jobnode_conn_id": Param("jobnode_cortex_default", type="string", description="a jobnode_cortex connection"),
        "api_name": Param("image-classifier", type="string", description="the Batch API that classifies"),
        "images": Param("s3://bucket/images/", type="string", description="the S3 folder (or key prefix) of images"),
        "includes": Param(["**.jpg"], type="array", description="glob patterns an image must match (any of them)"),
        "excludes": Param(["**_3.jpg"], type="array", description="glob patterns that drop an image"),
    },
    tags=["jobnode", "cortex", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def dry_run(conn_id: str, api_name: str, images: str, includes: list[str], excludes: list[str]) -> list[str]:
        """Cortex's dry run (`?dryRun=true`): the files the job will read, checked by Cortex; nothing is submitted."""
        from jobnode.airflow.hooks import JobnodeHook

        hook = JobnodeHook(conn_id)
        try:
            plan = hook.client.jobs.plan(step=api_name, files=[images], includes=includes, excludes=excludes)
        finally:
            hook.close()
        print(f"{api_name} will read {plan.files_total} file(s): {', '.join(plan.files)}")
        return plan.files

    classify = JobnodeSubmitJobOperator(
        task_id="classify",
        jobnode_conn_id=CONN_ID,
        step="{{ params.api_name }}",
        files=["{{ params.images }}"],
        includes="{{ params.includes }}",
        excludes="{{ params.excludes }}",
        batch_size=2,
        workers=2,
        job_timeout=3600,
        timeout=1800,
        deferrable=True,
    )

    @task
    def count_classes(summary: dict[str, Any], conn_id: str) -> dict[str, int]:
        """How many images got each class, read from the results the job wrote to `<dest_s3_dir>/<job_id>/`."""
        from jobnode.airflow.hooks import JobnodeHook

        if not summary["outputs"]:
            raise ValueError(f"job {summary['job_id']} wrote no results: set dest_s3_dir on the connection")
        hook = JobnodeHook(conn_id)
        try:
            return dict(Counter(record["class"] for record in hook.client.artifacts.read(summary["outputs"][0])))
        finally:
            hook.close()

    checked = dry_run(
        CONN_ID, "{{ params.api_name }}", "{{ params.images }}", "{{ params.includes }}", "{{ params.excludes }}"
    )
    checked >> classify
    count_classes(classify.output, CONN_ID)
