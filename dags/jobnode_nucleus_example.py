"""Scale Nucleus's async-job pipeline as an Airflow DAG: append items to a dataset, then annotate them once the
append has finished, then bring the annotate's errors (Nucleus keeps each upload error) into the task log.

This is the pipeline Nucleus's own guide writes with `sleep_until_complete()` between `dataset.append(...)` and
`dataset.annotate(...)`: here each upload is a task, the wait is the task's (deferred to the triggerer with
`[operators] default_deferrable`), a job that ends `Errored_*` fails its task with its message and first errors, and
the annotate never starts before the append has completed.

The connection (`jobnode_nucleus_default`, or the one the `jobnode_conn_id` param names) says where Nucleus is, the
API key, and the dataset (its `dataset_id` extra); the `dataset_id` param overrides the dataset for one run:

    export AIRFLOW_CONN_JOBNODE_NUCLEUS_DEFAULT='{"conn_type": "jobnode_nucleus", "password": "<Scale API key>",
        "extra": {"dataset_id": "ds_..."}}'
    airflow dags test jobnode_nucleus_example

Against the local emulator (`jobnode serve --platform nucleus --token ...`), the connection's host is
`http://127.0.0.1:8765/v1/nucleus` and its password the service's token. The images below are placeholders: on
Nucleus, name images it can read (`s3://...`, `https://...`). Nucleus cannot cancel or delete jobs: the clean-up task
at the end says so in its log and deletes nothing (the items and annotations stay in the dataset, as they should).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param, TriggerRule

from jobnode.airflow.operators import JobnodeCleanupOperator, JobnodeFetchLogsOperator, JobnodeSubmitJobOperator

#: the images to append (`DatasetItem.to_payload()`: a reference id, the image's URL, metadata)
ITEMS = [
    {
        "reference_id": f"street_{i:03d}",
        "image_url": f"s3://my-bucket/street/{i:03d}.jpg",
        "metadata": {"camera": i % 2},
    }
    for i in range(6)
]
#: a box around a car in each image (`BoxAnnotation.to_payload()`), each named by its item's reference id
ANNOTATIONS = [
    {
        "label": "car",
        "type": "box",
        "geometry": {"x": 50 + i, "y": 60, "width": 70, "height": 80},
        "reference_id": item["reference_id"],
        "annotation_id": f"car_{i:03d}",
        "metadata": {},
    }
    for i, item in enumerate(ITEMS)
]

CONN_ID = "{{ params.jobnode_conn_id }}"
#: the dataset of this run: the param when given, else the connection's `dataset_id` (an empty value is left out)
UPLOAD = "{{ {'dataset_id': params.dataset_id} if params.dataset_id else {} }}"

with DAG(
    dag_id="jobnode_nucleus_example",
    description="Append items to a Nucleus dataset, then annotate them: two Nucleus async jobs.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "jobnode_conn_id": Param("jobnode_nucleus_default", type="string", description="a jobnode_nucleus connection"),
        "dataset_id": Param("", type="string", description="the dataset (ds_...); empty: the connection's"),
    },
    render_template_as_native_obj=True,
    tags=["jobnode", "example", "nucleus"],
    doc_md=__doc__,
) as dag:
    append = JobnodeSubmitJobOperator(
        task_id="append_items", jobnode_conn_id=CONN_ID, step="append", step_params=UPLOAD, items=ITEMS, timeout=600
    )
    annotate = JobnodeSubmitJobOperator(
        task_id="annotate_items",
        jobnode_conn_id=CONN_ID,
        step="annotate",
        step_params=UPLOAD,
        items=ANNOTATIONS,
        timeout=600,
    )
    # the seed's `except JobError: print(annot_job.errors())`: every upload error into the task log, whether the
    # annotate completed or ended Errored_Partial (which fails its task with its first errors already)
    errors = JobnodeFetchLogsOperator(
        task_id="annotate_errors",
        jobnode_conn_id=CONN_ID,
        job_id=annotate.output["job_id"],
        trigger_rule=TriggerRule.ALL_DONE,
    )
    cleanup = JobnodeCleanupOperator(task_id="cleanup", jobnode_conn_id=CONN_ID)

    append >> annotate >> errors >> cleanup
