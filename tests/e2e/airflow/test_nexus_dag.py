"""`airflow dags test` of the example DAG on Datature Nexus: the emulator (`jobnode serve --platform nexus`) behind a
`jobnode_nexus` connection, picked by the DAG's `jobnode_conn_id` param. Nothing else about the DAG changes."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from pathlib import Path

import jobnode
from jobnode.platforms.nexus.backend import NexusBackend
from jobnode.service.process import ServiceProcess
from tests.e2e.airflow.conftest import REPO, AirflowHome
from tests.platforms.nexus.receiver import Receiver

NEXUS_JOB_ID = re.compile(r"\bbatchjob_[0-9a-f-]{36}\b")
DATASET_ID = re.compile(r"\bdataset_[0-9a-f-]{36}\b")


async def _create_webhook(backend: NexusBackend, endpoint: str) -> str:
    try:
        return (await backend.create_webhook("example-results", endpoint)).id
    finally:
        await backend.aclose()


def test_example_dag_runs_on_nexus_by_switching_the_connection(
    airflow_home: AirflowHome, nexus_service: ServiceProcess, nexus_receiver: Receiver, tmp_path: Path
) -> None:
    project_id = f"proj_{uuid.uuid4().hex}"
    token = nexus_service.token or ""
    webhook_id = asyncio.run(
        _create_webhook(
            NexusBackend(nexus_service.url, token=token, project_id=project_id), nexus_receiver.endpoint(project_id)
        )
    )
    connection = {
        "conn_type": "jobnode_nexus",
        "host": nexus_service.url,
        "password": token,
        "extra": {"project_id": project_id, "webhook_id": webhook_id, "poll_interval": 0.5},
    }
    logs = tmp_path / "score.jsonl"
    result = airflow_home.run(
        "dags",
        "test",
        "jobnode_example",
        "-f",
        str(REPO / "dags" / "jobnode_example.py"),
        "--conf",
        json.dumps({"jobnode_conn_id": "jobnode_nexus_default", "logs_to": f"file://{logs}"}),
        extra_env={
            "AIRFLOW_CONN_JOBNODE_NEXUS_DEFAULT": json.dumps(connection),
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    assert "left no output to read: its results went to a webhook" in output  # count_labels was skipped

    # both jobs ran over the one dataset the reviews were uploaded as, and delivered to the connection's webhook
    assert len(set(DATASET_ID.findall(output))) == 1, output[-5000:]
    deliveries = nexus_receiver.deliveries[project_id]
    by_job = Counter(body["job_name"] for body in deliveries for _ in body["results"])
    assert by_job == {"stage-reviews": 10, "score-reviews": 10}
    labels = Counter(r["result"]["label"] for b in deliveries if b["job_name"] == "score-reviews" for r in b["results"])
    assert sum(labels.values()) == 10
    assert set(labels) <= {"positive", "negative", "neutral"}

    # the scoring job's log reached the file, every review in it (Nexus names items by their `id`)
    entries = [jobnode.LogEntry.model_validate_json(line) for line in logs.read_text().splitlines()]
    assert {e.item for e in entries if e.item is not None} == {f"review-{i:03d}" for i in range(10)}

    # the cleanup deleted both jobs on Nexus
    assert len(set(NEXUS_JOB_ID.findall(output))) == 2, output[-5000:]
    with jobnode.Client(nexus_service.url, token, platform="nexus", project_id=project_id) as client:
        assert client.jobs.list().data == []
