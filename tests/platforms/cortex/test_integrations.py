"""What appears by itself from the Cortex descriptor: the `jobnode_cortex` Airflow connection type, its form and
`JobnodeCortexHook`, the Prefect block `CortexCredentials`, `jobnode serve --platform cortex` (the session's emulator
is one), and the client options; and what Cortex cannot do is refused in the client's one place."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

import jobnode
from jobnode.airflow.connections import client_settings, connection_types
from jobnode.airflow.hooks import JobnodeCortexHook
from jobnode.airflow.provider import get_provider_info
from jobnode.core.errors import ConfigurationError, UnsupportedOperation
from jobnode.platforms import get_platform
from jobnode.platforms.cortex.backend import CortexBackend
from jobnode.prefect import CortexCredentials
from jobnode.service.process import ServiceProcess
from tests.airflow.conftest import connection_env


def _conn(**fields: Any) -> Connection:
    extra = fields.pop("extra", {})
    return Connection(conn_id="cx", conn_type="jobnode_cortex", extra=json.dumps(extra), **fields)


class TestAirflow:
    def test_the_connection_type_and_its_form(self) -> None:
        [cortex] = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "jobnode_cortex"]
        assert cortex["hook-class-name"] == "jobnode.airflow.hooks.JobnodeCortexHook"
        assert {"api_name", "dest_s3_dir", "dead_letter_queue_arn", "poll_interval", "timeout"} <= set(
            cortex["conn-fields"]
        )
        assert cortex["conn-fields"]["dest_s3_dir"]["label"] == "Results directory (dest_s3_dir)"
        behaviour = cortex["ui-field-behaviour"]
        assert behaviour["relabeling"] == {"host": "Endpoint", "password": "Token"}
        assert connection_types()["jobnode_cortex"].platform.name == "cortex"

    def test_every_field_reaches_the_cortex_backend(self) -> None:
        extra = {
            "api_name": "image-classifier",
            "dest_s3_dir": "s3://my-bucket/results",
            "dead_letter_queue_arn": "arn:aws:sqs:us-west-2:1:dlq.fifo",
            "timeout": 12,
            "poll_interval": 2,
        }
        settings = client_settings(_conn(host="a1b2.elb.us-west-2.amazonaws.com", password="t0ken", extra=extra))
        assert settings.platform == "cortex" and settings.poll_interval == 2.0
        assert settings.options == {
            "url": "https://a1b2.elb.us-west-2.amazonaws.com",
            "token": "t0ken",
            "api_name": "image-classifier",
            "dest_s3_dir": "s3://my-bucket/results",
            "dead_letter_queue_arn": "arn:aws:sqs:us-west-2:1:dlq.fifo",
            "timeout": 12.0,
        }
        backend = get_platform("cortex").create_backend(get_platform("cortex").make_settings(**settings.options))
        assert isinstance(backend, CortexBackend) and backend.dest_s3_dir == "s3://my-bucket/results"

    def test_a_connection_needs_an_endpoint_and_s3_results(self) -> None:
        with pytest.raises(ConfigurationError, match="url"):
            get_platform("cortex").make_settings(token="t")
        with pytest.raises(ConfigurationError, match="dest_s3_dir: Value error, give an S3 directory"):
            get_platform("cortex").make_settings(url="http://x", dest_s3_dir="/data/results")

    def test_the_hook_tests_the_connection_through_the_api_s_listing(
        self, monkeypatch: pytest.MonkeyPatch, cortex_service: ServiceProcess
    ) -> None:
        fields = {"conn_type": "jobnode_cortex", "host": cortex_service.url, "password": cortex_service.token}
        with_api = connection_env(monkeypatch, "jobnode_cortex_default", **fields, extra={"api_name": "test-api"})
        assert JobnodeCortexHook(with_api).test_connection() == (True, "connected to the cortex platform")
        without = connection_env(monkeypatch, "cx_no_api", **fields)
        ok, message = JobnodeCortexHook(without).test_connection()
        assert not ok and "api_name: Cortex lists the jobs of one Batch API" in message
        wrong = connection_env(
            monkeypatch, "cx_wrong", **{**fields, "password": "not-it"}, extra={"api_name": "test-api"}
        )
        ok, message = JobnodeCortexHook(wrong).test_connection()
        assert not ok and "401" in message and "not-it" not in message


class TestPrefect:
    def test_the_block_has_the_settings_as_fields(self, cortex_service: ServiceProcess) -> None:
        block = CortexCredentials(url=cortex_service.url, token=cortex_service.token, api_name="test-api")
        assert block.platform == "cortex"
        assert CortexCredentials.model_fields["dest_s3_dir"].title == "Results directory (dest_s3_dir)"
        with block.get_client() as client:
            assert isinstance(client.backend, CortexBackend)
            job = client.jobs.create(step="test-api", items=[{"n": 1}])
            assert client.jobs.wait(job.id, timeout=60, poll_interval=0.05).state is jobnode.JobState.SUCCEEDED


def test_what_cortex_cannot_do_is_refused_by_the_client(cortex_service: ServiceProcess) -> None:
    with jobnode.Client(cortex_service.url, cortex_service.token, platform="cortex") as client:
        job = client.jobs.create(step="test-api", items=[{"n": 1}])
        for call in (
            lambda: list(client.jobs.iter_logs(job.id)),
            lambda: client.jobs.delete(job.id),
            lambda: client.jobs.list(tag="nightly"),
            lambda: client.jobs.events(job.id),
        ):
            with pytest.raises(UnsupportedOperation, match="the cortex platform does not support"):
                call()
