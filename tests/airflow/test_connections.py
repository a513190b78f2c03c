"""Connection types, the provider info built from them, and the hook that turns a connection into a client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

import jobnode
from jobnode.airflow.connections import client_settings, connection_types, service_url
from jobnode.airflow.hooks import JobnodeHook
from jobnode.airflow.provider import get_provider_info
from jobnode.core.errors import ConfigurationError
from jobnode.service.process import ServiceProcess
from tests.airflow.conftest import connection_env


def _conn(**fields: Any) -> Connection:
    fields.setdefault("conn_type", "jobnode")
    return Connection(conn_id="c", **fields)


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"host": "127.0.0.1", "port": 9000}, "http://127.0.0.1:9000"),
        ({"host": "127.0.0.1"}, "http://127.0.0.1:8765"),
        ({"host": "jobs.example.com", "port": 443, "schema": "https"}, "https://jobs.example.com:443"),
        ({"host": "https://jobs.example.com/"}, "https://jobs.example.com"),
    ],
)
def test_service_url_from_host_port_and_scheme(fields: dict[str, Any], url: str) -> None:
    assert service_url(_conn(**fields)) == url


def test_uri_form_gives_token_and_url() -> None:
    conn = Connection.from_uri("jobnode://:s3cret@127.0.0.1:8765/?poll_interval=2&watch=false", conn_id="c")
    settings = client_settings(conn)
    assert settings.platform == "local"
    assert settings.options == {"url": "http://127.0.0.1:8765", "token": "s3cret"}
    assert settings.poll_interval == 2.0
    assert settings.watch is False
    assert "s3cret" not in repr(settings)


def test_fields_stored_by_the_connection_form_are_read() -> None:
    extra = json.dumps({"extra__jobnode__poll_interval": 3, "extra__jobnode__timeout": 12})
    settings = client_settings(_conn(host="h", extra=extra))
    assert settings.poll_interval == 3.0
    assert settings.options["timeout"] == 12.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": ""}, "has no host"),
        ({"host": "h", "schema": "ftp"}, "must be http or https"),
        ({"host": "h", "extra": json.dumps({"poll_interval": "soon"})}, "'poll_interval' must be a number"),
        ({"host": "h", "extra": json.dumps({"poll_interval": 0})}, "'poll_interval' must be a number"),
        ({"host": "h", "extra": json.dumps({"watch": "maybe"})}, "'watch' must be true or false"),
        ({"host": "h", "conn_type": "http"}, "not a jobnode connection type; use one of: jobnode"),
    ],
)
def test_bad_connections_are_named_with_the_field_to_fix(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        client_settings(_conn(**fields))


def test_provider_info_declares_everything_with_form_fields() -> None:
    info = get_provider_info()
    assert info["package-name"] == "jobnode"
    modules = {key: info[key][0]["python-modules"] for key in ("hooks", "operators", "sensors", "triggers")}
    assert modules["triggers"] == ["jobnode.airflow.triggers"]
    assert info["extra-links"] == ["jobnode.airflow.links.JobnodeJobLink"]
    local = next(c for c in info["connection-types"] if c["connection-type"] == "jobnode")
    assert local["connection-type"] == JobnodeHook.conn_type == "jobnode"
    assert local["hook-class-name"] == "jobnode.airflow.hooks.JobnodeHook"
    assert {"poll_interval", "watch", "timeout"} <= set(local["conn-fields"])
    assert local["ui-field-behaviour"]["relabeling"]["password"] == "Token"


def test_provider_info_is_valid_for_airflow() -> None:
    import importlib.resources

    import jsonschema

    schema = json.loads((importlib.resources.files("airflow") / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_each_connection_type_names_a_hook_of_that_type() -> None:
    from airflow.sdk._shared.module_loading import import_string

    for conn_type, kind in connection_types().items():
        assert import_string(kind.hook_class).conn_type == conn_type


def test_hook_builds_clients_and_tests_the_connection(
    monkeypatch: pytest.MonkeyPatch, service: ServiceProcess, service_conn: str
) -> None:
    hook = JobnodeHook(service_conn)
    assert hook.test_connection() == (True, "connected to the local platform")
    job = hook.client.jobs.create(step="identity", items=[1])
    assert hook.get_conn() is hook.client
    assert hook.client.jobs.wait(job.id, timeout=30).state is jobnode.JobState.SUCCEEDED
    assert service.token not in repr(hook)
    hook.close()

    connection_env(monkeypatch, "wrong_token", host="127.0.0.1", port=service.port, password="nope")
    ok, message = JobnodeHook("wrong_token").test_connection()
    assert not ok
    assert "401" in message
    assert "nope" not in message


async def test_hook_builds_async_clients_without_blocking(service: ServiceProcess, service_conn: str) -> None:
    client = await JobnodeHook(service_conn).aget_client()
    try:
        page = await client.jobs.list(limit=1)
        assert isinstance(page.data, list)
    finally:
        await client.aclose()
