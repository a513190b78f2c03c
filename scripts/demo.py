"""The jobnode demo: a local job service, a real job with live progress and logs, then a DAG and a flow; then the
Scale Nucleus example DAG and flow against the Nucleus emulator.

Run it with `python3 dev.py demo`. Everything it makes lives in `.demo/` and the service is stopped at the end.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx

import jobnode
from jobnode.progress import ProgressBar
from jobnode.service.process import ServiceProcess

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"

OPENERS = ["The delivery was", "Support was", "This product is", "Honestly the app is", "The hotel room was"]
VERDICTS = [
    "great and fast",
    "terrible, I want a refund",
    "not bad at all",
    "slow and broken",
    "lovely, I would recommend it",
    "okay I guess",
    "awful and rude",
    "perfect, the best",
    "not good",
    "fine",
]


def reviews(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [{"id": f"review-{i:05d}", "text": f"{rng.choice(OPENERS)} {rng.choice(VERDICTS)}."} for i in range(n)]


def heading(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run_job(service: ServiceProcess) -> None:
    heading(f"local job service on {service.url}")
    with jobnode.Client(service.url, token=service.token) as client:
        items = reviews(5000)
        job = client.jobs.create(
            name="demo-sentiment", step="sentiment", items=items, batch_size=250, workers=2, tags=["demo"]
        )
        print(f"created {job.id}: {job.progress.items_total} reviews in {job.progress.batches_total} batches")
        bar = ProgressBar(sys.stdout)
        job = client.jobs.wait(job.id, timeout=300, on_progress=bar.update)
        bar.close(job)
        print(f"{job.state.value}: {job.message}")

        heading("first log entries")
        for entry in client.jobs.logs(job.id, limit=5).data:
            print(
                f"  {entry.time:%H:%M:%S.%f} {entry.level.value:5} {entry.kind} {entry.item} {entry.status}"
                f" {entry.duration_ms:.3f}ms"
            )
        levels = Counter(e.level.value for e in client.jobs.iter_logs(job.id))
        print(f"  ... {sum(levels.values())} entries in all: {dict(levels)}")

        heading("results")
        labels = Counter(r["label"] for r in client.artifacts.read(job.outputs[0].id))
        print(f"  output artifact {job.outputs[0].id}: {dict(labels)}")


def run_dag(service: ServiceProcess) -> None:
    dag_file = ROOT / "dags" / "jobnode_example.py"
    if not dag_file.exists():
        return
    heading("Airflow: airflow dags test jobnode_example")
    home = DEMO / "airflow"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_JOBNODE_DEFAULT": f'{{"conn_type": "jobnode", "host": "{service.url}", '
        f'"password": "{service.token}"}}',
    }
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(airflow), "dags", "test", "jobnode_example"], env=env, check=True)


def run_nucleus() -> None:
    """The Nucleus example DAG and flow (append, then annotate) against the Nucleus emulator."""
    dag_file = ROOT / "dags" / "jobnode_nucleus_example.py"
    if not dag_file.exists():
        return
    token = secrets.token_hex(16)
    with ServiceProcess(DEMO / "nucleus", token=token, extra_args=["--platform", "nucleus"]) as nucleus:
        url = nucleus.url + "/v1/nucleus"
        heading(f"Scale Nucleus emulator on {url}: airflow dags test jobnode_nucleus_example")
        created = httpx.post(f"{url}/dataset/create", json={"name": "demo"}, auth=(token, ""))
        dataset_id = created.json()["dataset_id"]
        connection = {
            "conn_type": "jobnode_nucleus",
            "host": url,
            "password": token,
            "extra": {"dataset_id": dataset_id},
        }
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(DEMO / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_JOBNODE_NUCLEUS_DEFAULT": json.dumps(connection),
        }
        airflow = Path(sys.executable).parent / "airflow"
        subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([str(airflow), "dags", "test", "jobnode_nucleus_example"], env=env, check=True)

        heading("Scale Nucleus: the Nucleus example flow")
        flow_env = {
            **os.environ,
            "PREFECT_HOME": str(DEMO / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "JOBNODE_TOKEN": token,
        }
        flow = [sys.executable, str(ROOT / "flows" / "nucleus_flow.py"), "--url", url, "--dataset-id", dataset_id]
        subprocess.run(flow, env=flow_env, check=True)


def run_flow(service: ServiceProcess) -> None:
    flow_file = ROOT / "flows" / "example_flow.py"
    if not flow_file.exists():
        return
    heading("Prefect: the example flow")
    env = {
        **os.environ,
        "PREFECT_HOME": str(DEMO / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # the temporary server would report usage on start
        "JOBNODE_URL": service.url,
        "JOBNODE_TOKEN": service.token or "",
    }
    subprocess.run([sys.executable, str(flow_file)], env=env, check=True)


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    with ServiceProcess(DEMO / "service", token=secrets.token_hex(16)) as service:
        run_job(service)
        run_dag(service)
        run_flow(service)
    run_nucleus()
    heading("done: the service is stopped; everything it made is in .demo/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
