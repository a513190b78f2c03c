"""Real Airflow against the real local service: a temporary AIRFLOW_HOME with a SQLite metadata database, migrated
once per session, and the `airflow` command run as a child process."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import jobnode
from jobnode.service.process import ServiceProcess

REPO = Path(__file__).resolve().parents[3]
TEST_DAGS = Path(__file__).resolve().parent / "dags"
JOB_ID = re.compile(r"\bjob_[0-9a-f]{24}\b")


@dataclass
class AirflowHome:
    """An Airflow installation of the test session: its home, and the environment of its commands."""

    home: Path
    env: dict[str, str]

    def run(
        self, *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        airflow = Path(sys.executable).with_name("airflow")
        return subprocess.run(
            [str(airflow), *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


#: Airflow's processes share one SQLite file: a writer waits up to this long for another's lock (SQLite's default,
#: 5 s, fails requests of a loaded machine with "database is locked")
SQLITE_BUSY_SECONDS = 15


def airflow_env(home: Path, service: ServiceProcess, dags: Path) -> dict[str, str]:
    """The environment of Airflow commands: no examples, the DAGs folder, SQLite's lock wait raised (through
    `airflow_local_settings`, as Airflow documents for connect args), and the `jobnode_default` connection to
    `service` given as JSON (as a deployment would give it)."""
    host, port = service.url.removeprefix("http://").rsplit(":", 1)
    settings = home / "config" / "airflow_local_settings.py"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(f"connect_args = {{'timeout': {SQLITE_BUSY_SECONDS}}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "JOBNODE_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="false",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="airflow_local_settings.connect_args",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC="airflow_local_settings.connect_args",
        AIRFLOW_CONN_JOBNODE_DEFAULT=json.dumps(
            {
                "conn_type": "jobnode",
                "host": host,
                "port": int(port),
                "password": service.token,
                "extra": {"poll_interval": 0.5},
            }
        ),
    )
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory, service: ServiceProcess) -> AirflowHome:
    home = tmp_path_factory.mktemp("airflow")
    installation = AirflowHome(home, airflow_env(home, service, TEST_DAGS))
    migrated = installation.run("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    # write-ahead logging (kept by the file): a reader never blocks a writer, nor a writer a reader, so that
    # Airflow's processes wait for each other only writer against writer
    with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
        assert db.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    return installation


def job_fates(client: jobnode.Client, output: str) -> dict[str, tuple[str, str]]:
    """Every job an Airflow run's output mentions: its id -> (name, `deleted` or its state)."""
    fates = {}
    for job_id in sorted(set(JOB_ID.findall(output))):
        try:
            job = client.jobs.get(job_id)
        except jobnode.NotFound as exc:
            fates[job_id] = (exc.details["what"]["name"], "deleted")
        else:
            fates[job_id] = (job.name or "", job.state.value)
    return fates
