"""What the Dataiku descriptor gives by itself: the Airflow connection type `jobnode_dataiku` (its form, its hook,
a connection turned into a client of the emulator) and the command line's `--platform dataiku`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

import jobnode
from jobnode.airflow.connections import client_settings, connection_types
from jobnode.airflow.hooks import JobnodeDataikuHook
from jobnode.airflow.provider import get_provider_info
from jobnode.cli import build_parser
from jobnode.core.errors import ConfigurationError
from jobnode.platforms.dataiku.backend import DataikuBackend
from jobnode.service.process import ServiceProcess
from tests.airflow.conftest import connection_env
from tests.platforms.dataiku.conftest import project_key


def conn(**fields: Any) -> Connection:
    extra = fields.pop("extra", {"project_key": "REVIEWS"})
    return Connection(conn_id="dk", conn_type="jobnode_dataiku", extra=json.dumps(extra), **fields)


class TestConnectionType:
    def test_the_type_its_hook_and_its_form(self) -> None:
        [dataiku] = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "jobnode_dataiku"]
        assert dataiku["hook-class-name"] == "jobnode.airflow.hooks.JobnodeDataikuHook"
        assert dataiku["hook-name"] == "jobnode Dataiku DSS"
        assert {"project_key", "recipes", "poll_interval", "timeout"} <= set(dataiku["conn-fields"])
        assert dataiku["conn-fields"]["project_key"]["label"] == "Project key"
        behaviour = dataiku["ui-field-behaviour"]
        assert behaviour["relabeling"] == {"host": "DSS URL", "password": "API key"}
        assert behaviour["placeholders"]["host"] == "https://dss.example.com:11200"
        assert connection_types()["jobnode_dataiku"].platform.name == "dataiku"
        assert JobnodeDataikuHook().jobnode_conn_id == "jobnode_dataiku_default"

    def test_every_field_reaches_the_backend(self) -> None:
        extra = {
            "project_key": "REVIEWS",
            "recipes": '{"sentiment": "compute_scored"}',
            "timeout": 12,
            "poll_interval": 2,
        }
        settings = client_settings(conn(host="https://dss.example.com", password="s3cret-key", extra=extra))
        assert settings.platform == "dataiku" and settings.poll_interval == 2.0
        assert settings.options == {
            "url": "https://dss.example.com",
            "token": "s3cret-key",
            "project_key": "REVIEWS",
            "recipes": {"sentiment": "compute_scored"},
            "timeout": 12.0,
        }
        assert "s3cret-key" not in repr(settings)

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"host": "https://dss.example.com", "extra": {}}, "has no project key: set the extra field 'project_key'"),
            ({"extra": {"project_key": "REVIEWS"}}, "has no host"),
            ({"host": "h", "extra": {"project_key": "A", "recipes": "x"}}, "'recipes' must be a JSON object"),
        ],
    )
    def test_a_bad_field_is_named(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(ConfigurationError, match=message):
            client_settings(conn(**fields))

    def test_a_bad_project_key_is_refused_by_the_settings(self) -> None:
        with pytest.raises(ConfigurationError, match=r"project_key: .*is not a DSS project key"):
            jobnode.Client("https://dss.example.com", "k", platform="dataiku", project_key="not a key")


class TestHook:
    def test_runs_a_job_on_the_emulator_and_tests_the_connection(
        self, monkeypatch: pytest.MonkeyPatch, dataiku_service: ServiceProcess
    ) -> None:
        conn_id = connection_env(
            monkeypatch,
            "jobnode_dataiku_default",
            conn_type="jobnode_dataiku",
            host=dataiku_service.url,
            password=dataiku_service.token,
            extra={"project_key": project_key("REVIEWS")},
        )
        hook = JobnodeDataikuHook()
        assert hook.jobnode_conn_id == conn_id
        assert hook.test_connection() == (True, "connected to the dataiku platform")
        assert isinstance(hook.client.backend, DataikuBackend)
        job = hook.client.jobs.create(name="hook", step="identity", items=[{"id": "a"}, {"id": "b"}])
        job = hook.client.jobs.wait(job.id, timeout=60, poll_interval=0.1)
        assert job.state is jobnode.JobState.SUCCEEDED and job.outputs[0].id.endswith(".reviews_staged")
        hook.close()

    def test_a_wrong_api_key_fails_the_test_without_showing_it(
        self, monkeypatch: pytest.MonkeyPatch, dataiku_service: ServiceProcess
    ) -> None:
        conn_id = connection_env(
            monkeypatch,
            "dataiku_wrong_key",
            conn_type="jobnode_dataiku",
            host=dataiku_service.url,
            password="not-the-key",
            extra={"project_key": "ANY"},
        )
        ok, message = JobnodeDataikuHook(conn_id).test_connection()
        assert not ok and "401" in message and "not-the-key" not in message


def test_the_command_line_serves_the_emulator() -> None:
    args = build_parser().parse_args(["serve", "--platform", "dataiku"])
    assert args.platform == "dataiku"
