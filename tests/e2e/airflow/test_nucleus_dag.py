"""Scale Nucleus in Airflow: `airflow dags test` of the Nucleus example DAG (append, then annotate) against the emulator
(`jobnode serve --platform nucleus`) behind a `jobnode_nucleus` connection; the connection type Airflow derives from
the platform; and what the cancel and clean-up paths say on a platform that can neither cancel nor delete."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from airflow.sdk import Connection

import jobnode
from jobnode.airflow.connections import client_settings
from jobnode.airflow.hooks import JobnodeNucleusHook
from jobnode.airflow.operators import JobnodeCancelJobOperator, JobnodeSubmitJobOperator
from jobnode.airflow.provider import get_provider_info
from jobnode.airflow.triggers import JobnodeJobTrigger
from jobnode.service.process import ServiceProcess
from tests.airflow.conftest import connection_env, task_context
from tests.e2e.airflow.conftest import REPO, AirflowHome
from tests.platforms.nucleus.api import NucleusApi, items

NUCLEUS_JOB_ID = re.compile(r"\bjob_[0-9a-f]{20}\b")


def nucleus_connection(service: ServiceProcess, dataset_id: str) -> dict[str, Any]:
    return {
        "conn_type": "jobnode_nucleus",
        "host": service.url + "/v1/nucleus",
        "password": service.token,
        "extra": {"dataset_id": dataset_id, "poll_interval": 0.5},
    }


def test_the_nucleus_example_dag_appends_then_annotates(
    airflow_home: AirflowHome, nucleus_service: ServiceProcess
) -> None:
    api = NucleusApi(nucleus_service)
    dataset_id = api.create_dataset("street")
    result = airflow_home.run(
        "dags",
        "test",
        "jobnode_nucleus_example",
        "-f",
        str(REPO / "dags" / "jobnode_nucleus_example.py"),
        extra_env={
            "AIRFLOW_CONN_JOBNODE_NUCLEUS_DEFAULT": json.dumps(nucleus_connection(nucleus_service, dataset_id)),
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]

    # both uploads landed in the dataset: six images, a car box on each
    refs = [f"street_{i:03d}" for i in range(6)]
    assert api.reference_ids(dataset_id) == refs
    assert [a["annotation_id"] for ref in refs for a in api.annotations(dataset_id, ref)["box"]] == [
        f"car_{i:03d}" for i in range(6)
    ]
    # the annotate started after the append had completed: it found every item
    jobs = api.json("POST", "jobs/", json={"dataset_id": dataset_id, "show_completed": True})
    assert [(j["job_type"], j["job_last_known_status"]) for j in jobs] == [
        ("uploadAnnotations", "Completed"),
        ("uploadDatasetItems", "Completed"),
    ]
    assert set(NUCLEUS_JOB_ID.findall(output)) >= {j["job_id"] for j in jobs}
    assert "0 log entries" in output  # the annotate's errors: none
    # the clean-up deleted nothing, and said so for each job
    assert output.count("is kept: the nucleus platform cannot delete jobs") >= 2
    assert "deleted 0 jobs (none)" in output


# -- the connection type --------------------------------------------------------------------------------------------


def test_the_connection_type_and_its_form_come_from_the_platform() -> None:
    [entry] = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "jobnode_nucleus"]
    assert entry["hook-class-name"] == "jobnode.airflow.hooks.JobnodeNucleusHook"
    assert entry["conn-fields"]["dataset_id"]["label"] == "Dataset ID"
    behaviour = entry["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Endpoint", "password": "API key"}
    assert behaviour["placeholders"]["host"] == "https://api.scale.com/v1/nucleus"
    conn = Connection(
        conn_id="n", conn_type="jobnode_nucleus", password="key", extra=json.dumps({"dataset_id": "ds_1"})
    )
    settings = client_settings(conn)
    assert settings.platform == "nucleus"
    assert settings.options == {"url": "https://api.scale.com/v1/nucleus", "token": "key", "dataset_id": "ds_1"}
    assert JobnodeNucleusHook().jobnode_conn_id == "jobnode_nucleus_default"


# -- cancel and clean-up say what they did not do -------------------------------------------------------------------


@pytest.fixture
def nucleus_conn(monkeypatch: pytest.MonkeyPatch, nucleus_service: ServiceProcess) -> tuple[str, str]:
    """A `jobnode_nucleus` connection to a dataset of its own, and that dataset."""
    dataset_id = NucleusApi(nucleus_service).create_dataset()
    fields = nucleus_connection(nucleus_service, dataset_id)
    fields.pop("conn_type")
    conn_id = connection_env(monkeypatch, f"nucleus_{dataset_id}", conn_type="jobnode_nucleus", **fields)
    return conn_id, dataset_id


def test_the_cancel_operator_cancels_nothing_and_says_so(
    nucleus_conn: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    conn_id, _ = nucleus_conn
    with JobnodeNucleusHook(conn_id).client as client:
        job = client.jobs.create(step="append", items=items(2))
        client.jobs.wait(job.id, timeout=60, poll_interval=0.1)
    op = JobnodeCancelJobOperator(task_id="stop", job_id=job.id, jobnode_conn_id=conn_id)
    summary = op.execute(task_context(op))  # type: ignore[arg-type]
    assert (summary["job_id"], summary["state"]) == (job.id, "succeeded")
    logged = capsys.readouterr().out
    assert f"job {job.id} was not cancelled (it is succeeded): the nucleus platform does not support 'cancel'" in logged


def test_killing_a_waiting_task_leaves_the_job_and_says_so(
    nucleus_conn: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    conn_id, _ = nucleus_conn
    with JobnodeNucleusHook(conn_id).client as client:
        job = client.jobs.create(step="append", items=items(1))
    op = JobnodeSubmitJobOperator(task_id="append", step="append", items=items(1), jobnode_conn_id=conn_id)
    op._waiting_on = job.id
    op.on_kill()
    logged = capsys.readouterr().out
    assert f"job {job.id} was not cancelled and goes on: the nucleus platform does not support 'cancel'" in logged


async def test_a_killed_deferred_task_leaves_the_job_and_says_so(
    nucleus_conn: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    conn_id, _ = nucleus_conn
    async with await JobnodeNucleusHook(conn_id).aget_client() as client:
        job = await client.jobs.create(step="append", items=items(1))
    trigger = JobnodeJobTrigger(job_id=job.id, jobnode_conn_id=conn_id)
    await trigger.on_kill()
    assert f"job {job.id} was not cancelled and goes on" in capsys.readouterr().out
    async with await JobnodeNucleusHook(conn_id).aget_client() as check:
        assert (await check.jobs.get(job.id)).state in (jobnode.JobState.RUNNING, jobnode.JobState.SUCCEEDED)


def test_a_wait_that_times_out_on_the_worker_fails_saying_the_job_goes_on(nucleus_conn: tuple[str, str]) -> None:
    from airflow.sdk.exceptions import AirflowException

    conn_id, _ = nucleus_conn
    op = JobnodeSubmitJobOperator(
        task_id="append", step="append", items=items(1), jobnode_conn_id=conn_id, deferrable=False, timeout=0.001
    )
    with JobnodeNucleusHook(conn_id).client as client:
        job = client.jobs.create(step="append", items=items(1))
        with pytest.raises(AirflowException, match="it was not cancelled and goes on: the nucleus platform does not"):
            op._poll(client, job.id, lambda _: None)
