"""`airflow dags test` of the example DAG on Cortex (the emulator behind a `jobnode_cortex` connection, picked by the
DAG's `jobnode_conn_id` param; nothing else about the DAG changes), and of the Cortex example DAG (a job over S3
images filtered by globs). S3 is a real S3-compatible server that the service and the Airflow tasks both reach."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from typing import Any

from jobnode.service.process import ServiceProcess
from tests.e2e.airflow.conftest import REPO, AirflowHome
from tests.platforms.cortex.servers import S3

CORTEX_JOB = re.compile(r"\b(identity|sentiment|image-classifier)/([0-9a-f]{16})\b")


def _run(
    airflow_home: AirflowHome, dag_id: str, service: ServiceProcess, s3: S3, results: str, conf: dict[str, Any]
) -> str:
    connection = {
        "conn_type": "jobnode_cortex",
        "host": service.url,
        "password": service.token,
        "extra": {"dest_s3_dir": results, "poll_interval": 0.5},
    }
    result = airflow_home.run(
        "dags",
        "test",
        dag_id,
        "-f",
        str(REPO / "dags" / f"{dag_id}.py"),
        "--conf",
        json.dumps(conf),
        extra_env={
            "AIRFLOW_CONN_JOBNODE_CORTEX_DEFAULT": json.dumps(connection),
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            **s3.env(),  # the tasks read the jobs' results from S3
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    return output


def _results(s3: S3, results: str, job_id: str) -> list[Any]:
    text = s3.fs.cat(f"{results.removeprefix('s3://')}/{job_id}/results.jsonl").decode()
    return [json.loads(line) for line in text.splitlines()]


def test_example_dag_runs_on_cortex_by_switching_the_connection(
    airflow_home: AirflowHome, cortex_service: ServiceProcess, cortex_s3: S3
) -> None:
    results = f"s3://results/example-dag-{uuid.uuid4().hex}"
    output = _run(
        airflow_home,
        "jobnode_example",
        cortex_service,
        cortex_s3,
        results,
        {"jobnode_conn_id": "jobnode_cortex_default"},
    )
    jobs = dict(CORTEX_JOB.findall(output))
    assert set(jobs) == {"identity", "sentiment"}, output[-5000:]

    # the staging job wrote the reviews to its results; the scoring job read them from there (its output) and
    # wrote one sentiment per review
    staged = _results(cortex_s3, results, jobs["identity"])
    assert [r["id"] for r in staged] == [f"review-{i:03d}" for i in range(10)]
    scored = _results(cortex_s3, results, jobs["sentiment"])
    labels = Counter(r["label"] for r in scored)
    assert sum(labels.values()) == 10 and set(labels) <= {"positive", "negative", "neutral"}
    assert str(dict(labels)) in output  # what count_labels returned

    # Cortex has no logs API and cannot delete jobs: those two tasks say so and are skipped
    assert "the cortex platform does not support 'logs'" in output
    assert "the cortex platform does not support 'delete'" in output


def test_the_cortex_example_dag_classifies_the_images_its_globs_select(
    airflow_home: AirflowHome, cortex_service: ServiceProcess, cortex_s3: S3
) -> None:
    results = f"s3://results/cortex-dag-{uuid.uuid4().hex}"
    output = _run(airflow_home, "jobnode_cortex_example", cortex_service, cortex_s3, results, {})
    assert "image-classifier will read 1 file(s): s3://bucket/images/img_2.jpg" in output
    [(api, job_id)] = set(CORTEX_JOB.findall(output))
    assert api == "image-classifier"
    assert _results(cortex_s3, results, job_id) == [{"url": "s3://bucket/images/img_2.jpg", "class": "dog", "top_k": 1}]
    assert "{'dog': 1}" in output
