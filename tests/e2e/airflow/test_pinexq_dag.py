"""PinexQ in Airflow: the `jobnode_pinexq` connection type (from a connection to a client, the form, the hook
against the emulator), the example DAG on PinexQ by switching only its connection, and the PinexQ example DAG
(`airflow dags test`, waiting in the triggerer through the platform's event stream)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Connection

import jobnode
from jobnode.airflow.connections import client_settings
from jobnode.airflow.hooks import JobnodePinexQHook
from jobnode.airflow.provider import get_provider_info
from jobnode.platforms.pinexq.backend import PinexqBackend
from jobnode.service.process import ServiceProcess
from tests.airflow.conftest import connection_env
from tests.e2e.airflow.conftest import REPO, AirflowHome

PINEXQ_JOB_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def _connection(service: ServiceProcess) -> dict[str, Any]:
    return {
        "conn_type": "jobnode_pinexq",
        "host": service.url,
        "password": service.token,
        "extra": {"poll_interval": 0.5},
    }


def _run_dag(airflow_home: AirflowHome, service: ServiceProcess, dag: str, file: str, conf: dict[str, Any]) -> str:
    result = airflow_home.run(
        "dags",
        "test",
        dag,
        "-f",
        str(REPO / "dags" / file),
        "--conf",
        json.dumps(conf),
        extra_env={
            "AIRFLOW_CONN_JOBNODE_PINEXQ_DEFAULT": json.dumps(_connection(service)),
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    return output


class TestConnection:
    def test_every_field_reaches_the_pinexq_backend_and_the_key_is_never_shown(self) -> None:
        conn = Connection(
            conn_id="px", conn_type="jobnode_pinexq", host="https://myapihost.com", password="s3cret-key", extra="{}"
        )
        settings = client_settings(conn)
        assert (settings.platform, settings.options) == (
            "pinexq",
            {"url": "https://myapihost.com", "token": "s3cret-key"},
        )
        assert "s3cret-key" not in repr(settings)
        bare = Connection(conn_id="px", conn_type="jobnode_pinexq", host="pinexq.example.com", password="k")
        assert client_settings(bare).options["url"] == "https://pinexq.example.com"

    def test_the_form_names_the_api_url_and_key(self) -> None:
        [pinexq] = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "jobnode_pinexq"]
        assert pinexq["hook-class-name"] == "jobnode.airflow.hooks.JobnodePinexQHook"
        assert pinexq["ui-field-behaviour"]["relabeling"] == {"host": "API URL", "password": "API key"}

    def test_the_hook_runs_a_job_on_pinexq_and_tests_the_connection(
        self, monkeypatch: pytest.MonkeyPatch, pinexq_service: ServiceProcess
    ) -> None:
        fields = _connection(pinexq_service)
        connection_env(monkeypatch, "jobnode_pinexq_default", **fields)
        hook = JobnodePinexQHook()
        assert hook.test_connection() == (True, "connected to the pinexq platform")
        assert isinstance(hook.client.backend, PinexqBackend)
        job = hook.client.jobs.create(name="hook", step="identity", items=[{"id": "a"}])
        assert hook.client.jobs.wait(job.id, timeout=60).state is jobnode.JobState.SUCCEEDED
        hook.close()

    def test_a_wrong_api_key_fails_the_test_without_showing_it(
        self, monkeypatch: pytest.MonkeyPatch, pinexq_service: ServiceProcess
    ) -> None:
        fields = {**_connection(pinexq_service), "password": "not-the-key"}
        conn_id = connection_env(monkeypatch, "pinexq_wrong_key", **fields)
        ok, message = JobnodePinexQHook(conn_id).test_connection()
        assert not ok and "401" in message and "not-the-key" not in message


def test_example_dag_runs_on_pinexq_by_switching_the_connection(
    airflow_home: AirflowHome, pinexq_service: ServiceProcess, tmp_path: Path
) -> None:
    logs = tmp_path / "score.jsonl"
    output = _run_dag(
        airflow_home,
        pinexq_service,
        "jobnode_example",
        "jobnode_example.py",
        {"jobnode_conn_id": "jobnode_pinexq_default", "logs_to": f"file://{logs}"},
    )
    # the labels were counted from the scoring job's output WorkData
    counted = re.search(r"Returned value was: (\{[^}]*'(?:positive|negative|neutral)'[^}]*\})", output)
    assert counted is not None, output[-5000:]
    assert sum(int(n) for n in re.findall(r": (\d+)", counted.group(1))) == 10
    # the scoring job's log reached the file, every review in it
    entries = [jobnode.LogEntry.model_validate_json(line) for line in logs.read_text().splitlines()]
    assert {e.item for e in entries if e.kind == "ItemProcessed"} == {f"review-{i:03d}" for i in range(10)}
    # the cleanup deleted both jobs, the scoring job first, each with its output WorkData
    ids = set(PINEXQ_JOB_ID.findall(output))
    with jobnode.Client(pinexq_service.url, pinexq_service.token, platform="pinexq") as client:
        assert [j for j in ids if _exists(client, j)] == []


def test_the_pinexq_example_dag_keeps_what_is_still_read(
    airflow_home: AirflowHome, pinexq_service: ServiceProcess
) -> None:
    output = _run_dag(airflow_home, pinexq_service, "jobnode_pinexq_example", "jobnode_pinexq_example.py", {})
    with jobnode.Client(pinexq_service.url, pinexq_service.token, platform="pinexq") as client:
        jobs = {j: client.jobs.get(j) for j in set(PINEXQ_JOB_ID.findall(output)) if _exists(client, j)}
        names = sorted(j.name or "" for j in jobs.values())
        # the scoring job went with its output; the staging job stays, read by the archive job
        assert names == ["archive-reviews", "stage-reviews"], output[-5000:]
        stage = next(j for j in jobs.values() if j.name == "stage-reviews")
        archive = next(j for j in jobs.values() if j.name == "archive-reviews")
        assert [a.id for a in archive.inputs] == [a.id for a in stage.outputs]
        assert "is kept: its output" in output and "which stays" in output
        labels = re.search(r"Returned value was: (\{[^}]*\})", output.split("count_labels", 1)[-1])
        assert labels is not None and set(json.loads(labels.group(1).replace("'", '"'))) <= {
            "positive",
            "negative",
            "neutral",
        }
        for job in (archive, stage):  # leave nothing behind: the archive first, then what it read
            client.jobs.delete(job.id, delete_outputs=True)


def _exists(client: jobnode.Client, job_id: str) -> bool:
    try:
        client.jobs.get(job_id)
    except jobnode.NotFound:
        return False
    return True
