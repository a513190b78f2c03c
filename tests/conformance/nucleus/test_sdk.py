"""Scale's own SDK (`scale-nucleus==0.22.3`, unmodified) runs every example of the seed's "Async Jobs" guide against
the emulator (`jobnode serve --platform nucleus`, reached through `NUCLEUS_ENDPOINT`).

Each example runs as the guide writes it, in the SDK's own environment, with its placeholders filled in: the API
key and ids are put in the text (`"YOUR_SCALE_API_KEY"` is the service's token), and the guide's elided inputs
(`YOUR_DATASET_ITEMS`, `DATASETITEMS`, `ANNOTATIONS`: "... construct some DatasetItems ...") are built with the
SDK's own classes before the example runs. Three changes, all forced by the guide's text or by the SDK:

- the guide's page lost the `try:` lines and the body of its `for` loop; they are put back as the guide means them;
- `from nucleus.job import JobError` is `from nucleus.async_job import JobError` in 0.22.3 (`nucleus.job` no longer
  exports it: the guide's import raises `ImportError`, which `test_the_guides_import_of_job_error` pins);
- `asynchronous=True` and `date_limit` are deprecated and ignored by 0.22.3 (append is always asynchronous): they
  are kept, and the SDK's warnings are checked.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conformance.nucleus.conftest import Sdk
from tests.conformance.sdk_runner import SdkError

RETRIEVE = """import nucleus

client = nucleus.NucleusClient("YOUR_SCALE_API_KEY")
dataset = client.get_dataset("YOUR_DATASET_ID")

# When kicking off an asynchronous job, store the return value as a variable
job = dataset.append(items=YOUR_DATASET_ITEMS, asynchronous=True)
"""

FIND = """import nucleus

client = nucleus.NucleusClient("YOUR_SCALE_API_KEY")

all_jobs = client.list_jobs(show_completed=True)

for job in all_jobs:
  if job.job_id == "YOUR_TARGET_JOB_ID":
    found = job
"""

SLEEP = """import nucleus
from nucleus.async_job import JobError

client = nucleus.NucleusClient("YOUR_SCALE_API_KEY")
dataset = client.get_dataset("YOUR_DATASET_ID")

# ... construct some DatasetItems ...

# ... construct some Annotations ...

append_job = dataset.append(items=DATASETITEMS, asynchronous=True)
try:
  append_job.sleep_until_complete()
except JobError as e:
  print("Failed to upload items!")
  print(f"All job errors:\\n{append_job.errors()}")
  raise e

annot_job = dataset.annotate(annotations=ANNOTATIONS, asynchronous=True)
try:
  annot_job.sleep_until_complete()
except JobError as e:
  print("Failed to upload annotations!")
  print(f"All job errors:\\n{annot_job.errors()}")
  raise e
"""

#: the guide's `job.errors()` output, exactly
SEED_ERROR = (
    '{"annotation":{"label":"car","type":"box","geometry":{"x":50,"y":60,"width":70,"height":80},'
    '"referenceId":"bad_ref_id","annotationId":"attempted_annot_upload","metadata":{}},'
    '"error":"Item with id bad_ref_id doesn\'t exist."}'
)
STATUS_KEYS = {"job_id", "status", "message", "job_progress", "completed_steps", "total_steps"}


def items_code(name: str, refs: list[str]) -> str:
    """Python that builds the guide's elided `DatasetItem`s (remote images) as `name`."""
    made = ", ".join(
        f"nucleus.DatasetItem(image_location='s3://bucket/{r}.jpg', reference_id={r!r}, metadata={{'ref': {r!r}}})"
        for r in refs
    )
    return f"import nucleus\n{name} = [{made}]\n"


def boxes_code(name: str, refs: list[str], ids: list[str] | None = None) -> str:
    """Python that builds the guide's box annotation (label car, x 50, y 60, 70 by 80) of each reference id."""
    ids = ids or [f"box_{r}" for r in refs]
    made = ", ".join(
        f"nucleus.BoxAnnotation(label='car', x=50, y=60, width=70, height=80, reference_id={r!r}, annotation_id={a!r})"
        for r, a in zip(refs, ids, strict=True)
    )
    return f"import nucleus\n{name} = [{made}]\n"


def example(sdk: Sdk, text: str, setup: str = "", dataset_id: str = "", **placeholders: str) -> dict[str, Any]:
    """Run a guide example with its placeholders filled in; `setup` builds its elided inputs first."""
    code = text.replace("YOUR_SCALE_API_KEY", sdk.key).replace("YOUR_DATASET_ID", dataset_id)
    for name, value in placeholders.items():
        code = code.replace(name, value)
    return sdk.run(setup + code)


@pytest.fixture
def dataset_id(sdk: Sdk) -> str:
    """A dataset made with the SDK, so that the suite starts from nothing."""
    client = f"import nucleus\nclient = nucleus.NucleusClient({sdk.key!r})\n"
    answer = sdk.run(client + f"result = client.create_dataset({uuid.uuid4().hex!r}, is_scene=False).id")
    return str(answer["result"])


def job_of(sdk: Sdk, job_id: str, then: str) -> dict[str, Any]:
    """Run `then` with `job` the SDK's `AsyncJob` of `job_id` (`client.get_job`)."""
    return sdk.run(f"import nucleus\njob = nucleus.NucleusClient({sdk.key!r}).get_job({job_id!r})\n{then}")


def test_retrieving_an_async_job(sdk: Sdk, dataset_id: str) -> None:
    answer = example(sdk, RETRIEVE + "result = job\n", items_code("YOUR_DATASET_ITEMS", ["a", "b"]), dataset_id)
    job = answer["result"]
    assert set(job) == {"job_id", "job_last_known_status", "job_type", "job_creation_time"}
    assert job["job_type"] == "uploadDatasetItems" and job["job_last_known_status"] in ("Running", "Completed")
    assert any("'asynchronous' parameter is deprecated" in w for w in answer["warnings"])
    done = job_of(sdk, job["job_id"], "job.sleep_until_complete()\nresult = job.status()")
    assert done["result"]["status"] == "Completed" and "Status at" in done["stdout"]
    size = sdk.run(f"import nucleus\nresult = nucleus.NucleusClient({sdk.key!r}).get_dataset({dataset_id!r}).size")
    assert size["result"] == 2


def test_finding_a_job_by_its_id(sdk: Sdk, dataset_id: str) -> None:
    started = example(sdk, RETRIEVE + "result = job\n", items_code("YOUR_DATASET_ITEMS", ["a"]), dataset_id)
    job_id = started["result"]["job_id"]
    job_of(sdk, job_id, "job.sleep_until_complete(verbose_std_out=False)")
    found = example(sdk, FIND + "result = found\n", YOUR_TARGET_JOB_ID=job_id)
    assert found["result"]["job_id"] == job_id and found["result"]["job_last_known_status"] == "Completed"
    # "Set the show_completed and date_limit parameters as needed": date_limit is ignored now, with a warning
    dated = example(
        sdk,
        FIND.replace("show_completed=True", "show_completed=True, date_limit='2024-01-01'") + "result = found\n",
        YOUR_TARGET_JOB_ID=job_id,
    )
    assert dated["result"]["job_id"] == job_id
    assert any("date_limit" in w for w in dated["warnings"])
    # the simpler way the guide announces, which 0.22.3 has: get_job (AsyncJob.from_id)
    assert job_of(sdk, job_id, "result = job")["result"] == found["result"]


def test_check_status(sdk: Sdk, dataset_id: str) -> None:
    started = example(
        sdk, RETRIEVE + "result = job.status()\n", items_code("YOUR_DATASET_ITEMS", ["a", "b", "c"]), dataset_id
    )
    status = started["result"]
    assert set(status) == STATUS_KEYS
    assert status["status"] in ("Running", "Completed") and status["total_steps"] == "3"
    assert all(isinstance(status[k], str) for k in ("job_progress", "completed_steps", "total_steps"))
    done = job_of(sdk, status["job_id"], "job.sleep_until_complete(verbose_std_out=False)\nresult = job.status()")
    assert done["result"] == {
        "job_id": status["job_id"],
        "status": "Completed",
        "message": "Job completed successfully.",
        "job_progress": "1.00",
        "completed_steps": "3",
        "total_steps": "3",
    }


def test_check_errors_after_an_annotation_of_an_item_that_does_not_exist(sdk: Sdk, dataset_id: str) -> None:
    setup = items_code("DATASETITEMS", ["good_ref_id"]) + boxes_code(
        "ANNOTATIONS", ["good_ref_id", "bad_ref_id"], ["fine_annot_upload", "attempted_annot_upload"]
    )
    with pytest.raises(SdkError) as raised:
        example(sdk, SLEEP, setup, dataset_id)
    assert raised.value.type == "JobError"
    assert "final status of Errored_Partial" in raised.value.message
    assert "Failed to upload annotations!" in raised.value.stdout
    assert f"All job errors:\n{[SEED_ERROR]}" in raised.value.stdout  # the guide's print of `errors()`
    errors = sdk.run(
        setup
        + f"client = nucleus.NucleusClient({sdk.key!r})\n"
        + "[job] = [j for j in client.list_jobs(show_completed=True, dataset_id="
        + f"{dataset_id!r}, job_types=[nucleus.job.CustomerJobTypes.UPLOAD_ANNOTATIONS])]\n"
        + "result = job.errors()\n"
    )
    assert errors["result"] == [SEED_ERROR]


def test_sleep_until_complete_blocks_the_annotate_on_the_append(sdk: Sdk, dataset_id: str) -> None:
    refs = [f"image_{n}" for n in range(4)]
    setup = items_code("DATASETITEMS", refs) + boxes_code("ANNOTATIONS", refs)
    answer = example(sdk, SLEEP + "result = [append_job.status(), annot_job.status()]\n", setup, dataset_id)
    appended, annotated = answer["result"]
    assert appended["status"] == annotated["status"] == "Completed"
    assert answer["stdout"].count("Finished at") == 2 and "Failed" not in answer["stdout"]
    refloc = sdk.run(
        f"import nucleus\nresult = nucleus.NucleusClient({sdk.key!r}).get_dataset({dataset_id!r}).refloc('image_2')"
    )
    assert "BoxAnnotation(label='car'" in json.dumps(refloc["result"])


def test_a_failed_append_raises_job_error_and_the_annotate_never_starts(sdk: Sdk, dataset_id: str) -> None:
    """An append whose every item is bad ends `Errored_User`; the guide's waiter raises before the annotate."""
    setup = items_code("DATASETITEMS", ["a"]) + boxes_code("ANNOTATIONS", ["a"])
    # an item the server refuses (the SDK only checks its own items): a reference id that is not text
    setup += "DATASETITEMS[0].reference_id = 7\n"
    with pytest.raises(SdkError) as raised:
        example(sdk, SLEEP, setup, dataset_id)
    assert raised.value.type == "JobError" and "final status of Errored_User" in raised.value.message
    assert "Failed to upload items!" in raised.value.stdout and "Input should be a valid string" in raised.value.stdout
    client = f"import nucleus\nclient = nucleus.NucleusClient({sdk.key!r})\n"
    jobs = sdk.run(client + f"result = client.list_jobs(show_completed=True, dataset_id={dataset_id!r})")
    assert [j["job_type"] for j in jobs["result"]] == ["uploadDatasetItems"]


def test_the_guides_import_of_job_error(sdk: Sdk) -> None:
    with pytest.raises(SdkError) as raised:
        sdk.run("from nucleus.job import JobError")
    assert raised.value.type == "ImportError"


def test_list_jobs_filters(sdk: Sdk, dataset_id: str) -> None:
    setup = items_code("DATASETITEMS", ["a"]) + boxes_code("ANNOTATIONS", ["a"])
    example(sdk, SLEEP, setup, dataset_id)
    listing = f"import nucleus\nfrom nucleus.job import CustomerJobTypes\nclient = nucleus.NucleusClient({sdk.key!r})\n"
    mine = f"dataset_id={dataset_id!r}"
    every = sdk.run(listing + f"result = client.list_jobs(show_completed=True, {mine})")["result"]
    assert [j["job_type"] for j in every] == ["uploadAnnotations", "uploadDatasetItems"]  # newest first
    assert sdk.run(listing + f"result = client.list_jobs({mine})")["result"] == []  # Completed jobs are left out
    one = sdk.run(listing + f"result = client.list_jobs(show_completed=True, limit=1, {mine})")["result"]
    assert one == every[:1]
    typed = sdk.run(
        listing
        + f"result = client.list_jobs(show_completed=True, job_types=[CustomerJobTypes.UPLOAD_DATASET_ITEMS], {mine})"
    )["result"]
    assert typed == every[1:]
    future = sdk.run(listing + f"result = client.list_jobs(show_completed=True, from_date='2100-01-01', {mine})")
    assert future["result"] == []
    dated = sdk.run(
        listing
        + "import datetime\n"
        + f"result = client.list_jobs(show_completed=True, to_date=datetime.datetime(2100, 1, 1), {mine})"
    )
    assert dated["result"] == every
    # the `jobs` property is `list_jobs()`: the jobs that are not Completed (none of this suite's is running now)
    assert (
        sdk.run(listing + "result = [j.job_last_known_status for j in client.jobs]")["result"]
        == sdk.run(listing + "result = [j.job_last_known_status for j in client.list_jobs()]")["result"]
    )


def test_local_images_are_uploaded_as_the_sdk_does(sdk: Sdk, dataset_id: str, tmp_path: Any) -> None:
    for n in range(3):
        (tmp_path / f"{n}.jpg").write_bytes(bytes([n]) * 10)
    made = ", ".join(
        f"nucleus.DatasetItem(image_location={str(tmp_path / f'{n}.jpg')!r}, reference_id='local_{n}')"
        for n in range(3)
    )
    answer = sdk.run(
        f"import nucleus\ndataset = nucleus.NucleusClient({sdk.key!r}).get_dataset({dataset_id!r})\n"
        f"job = dataset.append(items=[{made}], local_files_per_upload_request=2)\n"
        "job.sleep_until_complete(verbose_std_out=False)\n"
        "result = sorted(i.reference_id for i in dataset.items)\n"
    )
    assert answer["result"] == ["local_0", "local_1", "local_2"]  # two multipart requests, two jobs, one waited on


def test_api_errors(sdk: Sdk) -> None:
    with pytest.raises(SdkError) as raised:
        sdk.run(f"import nucleus\nnucleus.NucleusClient({sdk.key!r}).get_job('job_nope')")
    assert raised.value.type == "NucleusAPIError" and "received 404" in raised.value.message
    assert '"error":"job_id: no job' in raised.value.message
    with pytest.raises(SdkError) as raised:
        sdk.run("import nucleus\nnucleus.NucleusClient('wrong-key').list_jobs()")
    assert raised.value.type == "NucleusAPIError" and "received 401" in raised.value.message
