"""A platform added from outside jobnode, by an entry point alone, appears everywhere a platform appears: an Airflow
connection type with its form and hook, a Prefect credentials block, a `jobnode serve --platform` choice whose
emulator the service mounts, and a client that reaches its backend."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from jobnode.service.process import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A directory that, on the path, makes an installed distribution registering the toy platform."""
    site = tmp_path_factory.mktemp("site")
    dist = site / "toy_jobs-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-jobs\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[jobnode.platforms]\ntoy = tests.platforms.toy:PLATFORM\n")
    return os.pathsep.join([str(site), str(ROOT)])


def _python(code: str, plugin_path: str) -> str:
    env = {**os.environ, "PYTHONPATH": plugin_path}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_it_is_an_airflow_connection_type_with_a_form_and_a_hook(plugin_path: str) -> None:
    out = _python(
        """
        import json
        from jobnode.airflow.provider import get_provider_info
        from jobnode.airflow.hooks import JobnodeToyHook
        from jobnode.airflow.connections import client_settings
        from airflow.sdk import Connection

        [toy] = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "jobnode_toy"]
        conn = Connection(conn_id="t", conn_type="jobnode_toy", extra='{"shelf": "top"}')
        settings = client_settings(conn)
        print(json.dumps({
            "hook": toy["hook-class-name"], "fields": sorted(toy["conn-fields"]),
            "label": toy["conn-fields"]["shelf"]["label"], "relabel": toy["ui-field-behaviour"]["relabeling"],
            "conn_type": JobnodeToyHook.conn_type, "default": JobnodeToyHook.default_conn_name,
            "platform": settings.platform, "options": settings.options,
        }))
        """,
        plugin_path,
    )
    found = json.loads(out.strip().splitlines()[-1])  # Airflow may log to stdout before
    assert found["hook"] == "jobnode.airflow.hooks.JobnodeToyHook"
    assert found["conn_type"] == "jobnode_toy" and found["default"] == "jobnode_toy_default"
    assert "shelf" in found["fields"] and found["label"] == "Shelf"
    assert found["relabel"] == {"password": "Token", "host": "Toy endpoint"}
    assert found["platform"] == "toy"
    assert found["options"] == {"url": "http://toy.invalid", "token": None, "shelf": "top"}


def test_it_is_a_prefect_block_whose_client_reaches_its_backend(plugin_path: str) -> None:
    out = _python(
        """
        import json
        from jobnode.prefect import ToyCredentials, JobnodeJob

        block = ToyCredentials(shelf="top")
        with block.get_client() as client:
            job = client.jobs.create(step="identity", items=[1])
            spec = {"step": "identity", "input": {"kind": "items", "items": [1]}}
            job_block = JobnodeJob.model_validate({"credentials": block.model_dump(), "spec": spec})
            print(json.dumps({
                "type": ToyCredentials.get_block_type_slug(),
                "required": ToyCredentials.model_json_schema()["required"],
                "platform": client.platform, "shelf": client.backend.shelf, "job": client.jobs.get(job.id).id,
                "job_block": type(job_block.credentials).__name__,
            }))
        """,
        plugin_path,
    )
    found = json.loads(out.strip().splitlines()[-1])  # Airflow may log to stdout before
    assert found["type"] == "jobnode-toy-credentials" and found["required"] == ["platform", "shelf"]
    assert (found["platform"], found["shelf"]) == ("toy", "top")
    assert found["job"] == "job_0001"
    assert found["job_block"] == "ToyCredentials"


def test_it_is_a_serve_choice_and_the_service_mounts_its_emulator(plugin_path: str, tmp_path: Path) -> None:
    serve_help = _python(
        "from jobnode.cli import build_parser; build_parser().parse_args(['serve', '--help'])", plugin_path
    )
    choices = re.search(r"--platform \{([^}]*)\}", serve_help)
    assert choices is not None and "toy" in choices.group(1).split(",")
    token = "toy-token"
    with ServiceProcess(
        tmp_path / "svc", token=token, extra_args=["--platform", "toy"], env={"PYTHONPATH": plugin_path}
    ) as service:
        assert httpx.get(f"{service.url}/toy/shelf", headers={"x-toy-key": token}).json()["steps"]
        refused = httpx.get(f"{service.url}/toy/shelf", headers={"x-toy-key": "nope"})
        assert refused.status_code == 401 and "oops" in refused.json()
        assert httpx.get(f"{service.url}/healthz").status_code == 200
