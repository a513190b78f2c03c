"""Dataiku's own API client (`dataiku-api-client==15.2.0`, unmodified) runs every example of the jobs guide against
the emulator (`jobnode serve --platform dataiku`).

Each example runs as the guide writes it, in the client's own environment, with `client = DSSClient(url, api_key)`
made and the guide's `TEST_PROJECT` replaced by a project of the test's own. Where the guide's text is cut short the
client's real spelling completes it: the definition's closing brackets, and the body of the loop that aborts every
job that is not stable (`project.get_job(job['def']['id']).abort()`, which the guide describes: "The id field is
needed to get a handle of the job and call abort()"). The emulator serves the undeclared projects with the default
flow: the test steps `compute_dataset_to_build`, `compute_dk_slow`, ... build `dataset_to_build`, `dk_slow`, ...
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.dataiku.conftest import Sdk
from tests.conformance.sdk_runner import SdkError
from tests.platforms.dataiku.conftest import project_key

SEED_DEFINITION = """
project = client.get_project('{project}')
definition = {
        "type" : "NON_RECURSIVE_FORCED_BUILD",
        "outputs" : [{
                                        "id" : "dataset_to_build",
                                        "partition" : "NP"
                                }]
        }
job = project.start_job(definition)
state = ''
while state != 'DONE' and state != 'FAILED' and state != 'ABORTED':
        state = job.get_status()['baseStatus']['state']
# done!
result = {"state": state, "id": job.id}
"""

# the guide's code, line for line (its long line is split in two here, and joined again in the code that runs)
SEED_FAILED_AFTER_DATE = (
    "date = '{date}'\n"
    "date_as_timestamp = int(datetime.datetime.strptime(date, \"%Y/%m/%d\").strftime('%s')) * 1000\n"
    "project = client.get_project('{project}')\n"
    "jobs = project.list_jobs()\n"
    "failed_jobs = [job for job in jobs if job['state'] == 'FAILED' and "
    "job['def']['initiationTimestamp'] >= date_as_timestamp]\n"
    "result = {\"jobs\": jobs, \"failed\": [job['def']['id'] for job in failed_jobs]}\n"
)

SEED_ABORT_UNSTABLE = """
project = client.get_project('{project}')
for job in project.list_jobs():
        if job['stableState'] == False:
                project.get_job(job['def']['id']).abort()
"""

#: the fields the guide calls important, in each item of `list_jobs()`
IMPORTANT = {"def", "endTime", "stableState", "startTime", "state", "warningsCount"}
IMPORTANT_DEF = {
    "id",
    "initiationTimestamp",
    "initiator",
    "mailNotification",
    "name",
    "outputs",
    "projectKey",
    "refreshHiveMetastore",
    "refreshIntermediateMirrors",
    "refreshTargetMirrors",
    "triggeredFrom",
    "type",
}


def start(sdk: Sdk, project: str, dataset: str) -> str:
    """Start a build of `dataset` with the client's job builder; its id."""
    job = sdk.run(
        f"result = client.get_project('{{project}}').new_job().with_output('{dataset}').start()", project=project
    )
    return str(job["id"])


def wait(sdk: Sdk, project: str, job_id: str) -> str:
    code = "result = DSSJobWaiter(client.get_project('{project}').get_job('{job}')).wait(no_fail=True)"
    return str(sdk.run(code, project=project, job=job_id))


def test_start_job_with_the_guides_definition_and_poll_its_status(sdk: Sdk, project: str) -> None:
    result = sdk.run(SEED_DEFINITION, project=project)
    assert result["state"] == "DONE"
    assert result["id"].startswith("build_dataset_to_build_NP_")
    rows = sdk.run(
        "result = list(client.get_project('{project}').get_dataset('dataset_to_build').iter_rows())", project=project
    )
    assert rows == [["NP", 3, True]]


def test_list_jobs_and_the_failed_ones_after_a_date(sdk: Sdk, project: str) -> None:
    done = start(sdk, project, "dataset_to_build")
    failed = start(sdk, project, "dk_broken")
    assert (wait(sdk, project, done), wait(sdk, project, failed)) == ("DONE", "FAILED")
    result = sdk.run(SEED_FAILED_AFTER_DATE, project=project, date="2015/09/24")
    assert result["failed"] == [failed]
    for job in result["jobs"]:
        assert set(job) >= IMPORTANT and set(job["def"]) >= IMPORTANT_DEF
        [output] = job["def"]["outputs"]
        assert set(output) == {"targetDataset", "targetDatasetProjectKey", "targetPartition", "type"}
        assert job["stableState"] is True and job["endTime"] >= job["startTime"] > 0
    assert {j["def"]["id"]: j["state"] for j in result["jobs"]} == {done: "DONE", failed: "FAILED"}
    assert sdk.run(SEED_FAILED_AFTER_DATE, project=project, date="2999/01/01")["failed"] == []


def test_abort_every_job_that_is_not_stable(sdk: Sdk, project: str) -> None:
    done = start(sdk, project, "dataset_to_build")
    assert wait(sdk, project, done) == "DONE"
    slow = [start(sdk, project, "dk_slow") for _ in range(2)]
    states = sdk.run(
        "result = {j['def']['id']: j['stableState'] for j in client.get_project('{project}').list_jobs()}",
        project=project,
    )
    assert states == {done: True, slow[0]: False, slow[1]: False}
    sdk.run(SEED_ABORT_UNSTABLE, project=project)
    assert [wait(sdk, project, j) for j in slow] == ["ABORTED", "ABORTED"]
    assert wait(sdk, project, done) == "DONE"
    assert sdk.run("result = client.get_project('{project}').get_job('{job}').abort()", project=project, job=done) == {
        "msg": f"Abort requested for job {done}"
    }


def test_get_log_with_and_without_an_activity(sdk: Sdk) -> None:
    """A recursive build of a declared flow (raw -> clean -> scored -> report), its data uploaded by the client."""
    project = project_key("CHAIN")
    code = """
project = client.get_project('{project}')
rows = b'{"id": "r1", "text": "Great FOOD"}\\n{"id": "r2", "text": "Awful SERVICE"}\\n'
project.get_dataset('raw').uploaded_add_file(io.BytesIO(rows), 'reviews.jsonl')
job = project.new_job('RECURSIVE_FORCED_BUILD').with_output('report').start_and_wait()
result = {
    "id": job.id,
    "log": job.get_log(),
    "clean": job.get_log(activity='compute_clean_NP'),
    "report": job.get_log('compute_report_NP'),
    "activities": list(job.get_status()['baseStatus']['activities']),
    "files": project.get_dataset('raw').uploaded_list_files(),
    "rows": list(project.get_dataset('report').iter_rows()),
    "columns": [c['name'] for c in project.get_dataset('report').get_schema()['columns']],
}
"""
    result = sdk.run(code, project=project)
    assert result["activities"] == ["compute_clean_NP", "compute_scored_NP", "compute_report_NP"]
    whole = result["log"].splitlines()
    for activity in ("clean", "report"):
        lines = result[activity].splitlines()
        assert lines and all(f" act.compute_{activity}_NP - " in line for line in lines)
        assert set(lines) < set(whole)
    assert any("ItemProcessed r1" in line for line in result["clean"].splitlines())
    assert whole[-1].endswith("Job DONE: 3 of 3 activities done")
    assert [f["path"] for f in result["files"]] == ["/reviews.jsonl"]
    label = result["columns"].index("label")
    assert [row[label] for row in result["rows"]] == ["positive", "negative"]


def test_the_job_waiter(sdk: Sdk, project: str) -> None:
    assert (
        sdk.run(
            "result = DSSJobWaiter(client.get_project('{project}').get_job('{job}')).wait()",
            project=project,
            job=start(sdk, project, "dataset_to_build"),
        )
        == "DONE"
    )
    aborted = start(sdk, project, "dk_slow")
    sdk.run("result = client.get_project('{project}').get_job('{job}').abort()", project=project, job=aborted)
    with pytest.raises(SdkError) as failed:
        sdk.run(
            "result = DSSJobWaiter(client.get_project('{project}').get_job('{job}')).wait()",
            project=project,
            job=aborted,
        )
    assert (failed.value.type, failed.value.message) == ("DataikuException", "Job run did not finish. Status: ABORTED")
    assert wait(sdk, project, aborted) == "ABORTED"
    broken = """
definition = {"type": "NON_RECURSIVE_FORCED_BUILD", "outputs": [{"id": "dk_broken"}]}
result = client.get_project('{project}').start_job_and_wait(definition, no_fail=True)
"""
    assert sdk.run(broken, project=project) == "FAILED"
    built = sdk.run("result = client.get_project('{project}').get_dataset('dataset_to_build').build()", project=project)
    assert built["project_key"] == project and built["id"].startswith("build_dataset_to_build_NP_")


def test_the_running_jobs_listings(sdk: Sdk, project: str) -> None:
    slow = start(sdk, project, "dk_slow")
    code = """
project = client.get_project('{project}')
mine = project.list_running_jobs()
everyone = client.list_running_jobs(all_users=True)
result = {
    "mine": [(j.job_id, j.project_key, j.start_time is not None) for j in mine],
    "everyone": [j.job_id for j in everyone],
    "objects": project.list_running_jobs(as_type="objects"),
}
"""
    result = sdk.run(code, project=project)
    assert result["mine"] == [[slow, project, True]]
    assert slow in result["everyone"]
    assert result["objects"] == [{"id": slow, "project_key": project}]
    sdk.run("client.get_project('{project}').get_job('{job}').abort()", project=project, job=slow)
    assert sdk.run("result = client.get_project('{project}').list_running_jobs()", project=project) == []


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "client.get_project('{project}').get_job('nope').get_status()",
            "com.dataiku.dip.exceptions.UnknownObjectException: Job nope not found in project {project}",
        ),
        (
            "client.get_project('{project}').start_job({'outputs': [{'id': 'dataset_to_build'}]})",
            "java.lang.IllegalArgumentException: type: required; give it",
        ),
        (
            "client.get_project('{project}').new_job().with_output('nope').start()",
            "com.dataiku.dip.exceptions.UnknownObjectException: outputs.0.id: dataset {project}.nope does not exist",
        ),
    ],
)
def test_errors_as_the_client_shows_them(sdk: Sdk, project: str, code: str, message: str) -> None:
    with pytest.raises(SdkError) as raised:
        sdk.run(code, project=project)
    assert raised.value.type == "DataikuException"
    assert raised.value.message.startswith(message.replace("{project}", project))


def test_a_wrong_api_key(sdk: Sdk, project: str) -> None:
    code = "dataikuapi.DSSClient(client.host, 'not-the-key').get_project('{project}').list_jobs()"
    with pytest.raises(SdkError) as raised:
        sdk.run(code, project=project)
    assert raised.value.message.startswith("com.dataiku.dip.exceptions.UnauthorizedException: missing or wrong API key")


def test_datasets_read_cleared_and_listed(sdk: Sdk, project: str) -> None:
    assert wait(sdk, project, start(sdk, project, "dataset_to_build")) == "DONE"
    code = """
dataset = client.get_project('{project}').get_dataset('dataset_to_build')
before = dataset.list_partitions()
schema = dataset.get_schema()
cleared = dataset.clear()
after = dataset.list_partitions()
result = {"before": before, "schema": schema, "cleared": cleared, "after": after, "rows": list(dataset.iter_rows())}
"""
    result: dict[str, Any] = sdk.run(code, project=project)
    assert result["before"] == ["NP"] and result["after"] == [] and result["rows"] == []
    assert [c["type"] for c in result["schema"]["columns"]] == ["string", "bigint", "boolean"]
    assert result["cleared"] == {"success": True, "clearedPartitions": ["NP"]}
