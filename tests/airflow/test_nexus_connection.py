"""The `jobnode_nexus` connection type: from the connection a user fills to a Nexus client, the form Airflow shows,
and `JobnodeNexusHook` against the emulator (`jobnode serve --platform nexus`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowFailException

import jobnode
from jobnode.airflow.connections import client_settings, connection_types
from jobnode.airflow.hooks import JobnodeHook, JobnodeNexusHook
from jobnode.airflow.operators import JobnodeSubmitJobOperator
from jobnode.airflow.provider import get_provider_info
from jobnode.core.errors import ConfigurationError
from jobnode.platforms.nexus.backend import NexusBackend
from jobnode.service.process import ServiceProcess
from tests.airflow.conftest import connection_env, task_context


def _conn(**fields: Any) -> Connection:
    extra = fields.pop("extra", {"project_id": "proj_b705a"})
    return Connection(conn_id="nx", conn_type="jobnode_nexus", extra=json.dumps(extra), **fields)


@pytest.fixture
def nexus_conn(monkeypatch: pytest.MonkeyPatch, nexus_service: ServiceProcess) -> str:
    """The connection `jobnode_nexus_default` to a project of its own on the emulator."""
    return connection_env(
        monkeypatch,
        "jobnode_nexus_default",
        conn_type="jobnode_nexus",
        host=nexus_service.url,
        password=nexus_service.token,
        extra={"project_id": f"proj_{uuid.uuid4().hex}", "poll_interval": 0.2},
    )


class TestOptions:
    def test_every_field_reaches_the_nexus_backend(self) -> None:
        extra = {
            "project_id": "b705a",
            "webhook_id": "webhook_ed98",
            "deployments": {"sentiment": "deploy_3286bd71"},
            "timeout": 12,
            "poll_interval": 2,
        }
        settings = client_settings(_conn(host="http://127.0.0.1:8080", password="s3cret-key", extra=extra))
        assert settings.platform == "nexus"
        assert settings.options == {
            "url": "http://127.0.0.1:8080",
            "token": "s3cret-key",
            "project_id": "b705a",
            "webhook_id": "webhook_ed98",
            "deployments": {"sentiment": "deploy_3286bd71"},
            "timeout": 12.0,
        }
        assert settings.poll_interval == 2.0
        assert "s3cret-key" not in repr(settings)

    def test_an_empty_host_is_datatures_api(self) -> None:
        options = client_settings(_conn(password="k")).options
        assert options == {"url": "https://api.datature.io", "token": "k", "project_id": "proj_b705a"}

    def test_a_host_name_is_https(self) -> None:
        assert client_settings(_conn(host="nexus.example.com")).options["url"] == "https://nexus.example.com"

    def test_the_uri_form_and_fields_stored_by_the_form(self) -> None:
        conn = Connection.from_uri(
            "jobnode-nexus://:s3cret-key@127.0.0.1:8080/http?project_id=proj_1&webhook_id=webhook_2", conn_id="nx"
        )
        assert client_settings(conn).options == {
            "url": "http://127.0.0.1:8080",
            "token": "s3cret-key",
            "project_id": "proj_1",
            "webhook_id": "webhook_2",
        }
        form = {
            "extra__jobnode_nexus__project_id": "proj_1",
            "extra__jobnode_nexus__deployments": '{"identity": "deploy_9"}',
        }
        options = client_settings(_conn(extra=form)).options
        assert (options["project_id"], options["deployments"]) == ("proj_1", {"identity": "deploy_9"})

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            ({}, "has no project id: set the extra field 'project_id'"),
            ({"project_id": " "}, "has no project"),
            ({"project_id": 7}, "'project_id' must be text"),
            ({"project_id": "p", "deployments": "deploy_1"}, "'deployments' must be a JSON object"),
            ({"project_id": "p", "deployments": {"identity": 1}}, "'deployments' must be a JSON object"),
            ({"project_id": "p", "timeout": 0}, "'timeout' must be a number"),
        ],
    )
    def test_a_bad_field_is_named(self, extra: dict[str, Any], message: str) -> None:
        with pytest.raises(ConfigurationError, match=message):
            client_settings(_conn(password="s3cret-key", extra=extra))


class TestProviderInfo:
    def test_the_nexus_type_and_its_form(self) -> None:
        [nexus] = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "jobnode_nexus"]
        assert nexus["hook-class-name"] == "jobnode.airflow.hooks.JobnodeNexusHook"
        assert {"project_id", "webhook_id", "deployments", "poll_interval", "timeout"} <= set(nexus["conn-fields"])
        behaviour = nexus["ui-field-behaviour"]
        assert set(behaviour["hidden-fields"]) == {"login", "port", "schema"}
        assert behaviour["relabeling"] == {"host": "Endpoint", "password": "Secret key"}
        assert connection_types()["jobnode_nexus"].platform.name == "nexus"

    def test_airflow_loads_the_hook_and_the_form(self) -> None:
        from airflow.providers_manager import ProvidersManager
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        manager = ProvidersManager()
        hook = ProvidersManagerTaskRuntime().hooks["jobnode_nexus"]
        assert hook is not None
        assert (hook.hook_class_name, hook.connection_id_attribute_name) == (
            "jobnode.airflow.hooks.JobnodeNexusHook",
            "jobnode_conn_id",
        )
        assert manager.field_behaviours["jobnode_nexus"]["relabeling"]["password"] == "Secret key"
        assert "extra__jobnode_nexus__project_id" in manager.connection_form_widgets


class TestHook:
    def test_defaults_to_its_own_connection(self) -> None:
        assert JobnodeNexusHook().jobnode_conn_id == "jobnode_nexus_default"
        assert JobnodeHook().jobnode_conn_id == "jobnode_default"

    def test_runs_a_job_on_nexus_and_tests_the_connection(self, nexus_conn: str) -> None:
        hook = JobnodeNexusHook()
        assert hook.test_connection() == (True, "connected to the nexus platform")
        assert isinstance(hook.client.backend, NexusBackend)
        job = hook.client.jobs.create(name="hook", step="identity", items=[{"id": "a"}, {"id": "b"}])
        assert hook.client.jobs.wait(job.id, timeout=60, poll_interval=0.2).state is jobnode.JobState.SUCCEEDED
        hook.close()

    async def test_builds_async_clients(self, nexus_conn: str) -> None:
        client = await JobnodeNexusHook(nexus_conn).aget_client()
        try:
            assert (await client.jobs.list(limit=1)).data == []
        finally:
            await client.aclose()

    def test_a_wrong_secret_key_fails_the_test_without_showing_it(
        self, monkeypatch: pytest.MonkeyPatch, nexus_service: ServiceProcess
    ) -> None:
        conn_id = connection_env(
            monkeypatch,
            "nexus_wrong_key",
            conn_type="jobnode_nexus",
            host=nexus_service.url,
            password="not-the-key",
            extra={"project_id": "proj_1"},
        )
        ok, message = JobnodeNexusHook(conn_id).test_connection()
        assert not ok
        assert "403" in message
        assert "not-the-key" not in message


def test_a_templated_connection_id_and_a_request_nexus_refuses(nexus_conn: str) -> None:
    """The connection comes from a DAG param; step parameters for an existing deployment (`deploy_sentiment`) are
    refused before anything is created, and the task fails without retries, naming the field."""
    op = JobnodeSubmitJobOperator(
        task_id="score",
        step="sentiment",
        items=[{"id": "a", "text": "good"}],
        step_params={"top_k": 3},
        jobnode_conn_id="{{ params.jobnode_conn_id }}",
    )
    context = task_context(op)
    context["params"] = {"jobnode_conn_id": nexus_conn}
    op.render_template_fields(context)  # type: ignore[arg-type]
    assert op.jobnode_conn_id == nexus_conn
    with pytest.raises(AirflowFailException, match="params: a job on the existing deployment deploy_sentiment"):
        op.execute(context)  # type: ignore[arg-type]
    with JobnodeNexusHook(nexus_conn).client as client:
        assert client.jobs.list().data == []
