"""Airflow connection types: one entry per job platform, from the form a user fills to the client's options.

A platform joins the provider with one `ConnectionType` entry in `CONNECTION_TYPES` (its conn type, platform, form
fields and how a connection becomes its backend's options) and a hook class that names that conn type (a subclass
of `JobnodeHook` with three class attributes). The provider info, the connection form and `JobnodeHook` all read
this mapping. This module imports nothing heavy: Airflow reads it whenever it lists providers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobnode.core.errors import ConfigurationError

DEFAULT_PORT = 8765
DEFAULT_POLL_INTERVAL = 5.0
#: Datature's API, the endpoint of a `jobnode_nexus` connection whose host is empty
NEXUS_URL = "https://api.datature.io"


class ConnectionLike(Protocol):
    """What jobnode reads of an Airflow `Connection`."""

    @property
    def conn_id(self) -> str: ...

    @property
    def conn_type(self) -> str | None: ...

    @property
    def host(self) -> str | None: ...

    @property
    def schema(self) -> str | None: ...

    @property
    def password(self) -> str | None: ...

    @property
    def port(self) -> int | None: ...

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ClientSettings:
    """What a connection says about the client to build and how to wait through it.

    Attributes:
        platform: the jobnode platform (`local`, ...).
        options: keyword arguments of the platform's backend (url, token, ...); never shown in a repr.
        poll_interval: seconds between two status requests when the platform has no push channel.
        watch: whether to use the platform's push channel (server-sent events) when it has one.
    """

    platform: str
    options: dict[str, Any] = field(repr=False)
    poll_interval: float = DEFAULT_POLL_INTERVAL
    watch: bool = True


OptionsBuilder = Callable[[ConnectionLike], dict[str, Any]]


@dataclass(frozen=True)
class ConnectionType:
    """One Airflow connection type and the platform behind it.

    Attributes:
        conn_type: the Airflow connection type (`jobnode`, `jobnode_nexus`, ...).
        platform: the jobnode platform its jobs run on.
        hook_class: the dotted path of the hook class whose `conn_type` is this one.
        hook_name: the name shown in the connection form's type list.
        options: turns a connection into the platform backend's keyword arguments.
        conn_fields: extra form fields (Airflow's `conn-fields`: label, description, JSON schema), besides the
            fields every jobnode connection has (`COMMON_FIELDS`).
        ui_field_behaviour: hidden fields, relabelings and placeholders of the standard form fields.
    """

    conn_type: str
    platform: str
    hook_class: str
    hook_name: str
    options: OptionsBuilder
    conn_fields: Mapping[str, Any] = field(default_factory=dict)
    ui_field_behaviour: Mapping[str, Any] = field(default_factory=dict)

    def provider_entry(self) -> dict[str, Any]:
        """The `connection-types` entry of the provider info."""
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            "conn-fields": {**COMMON_FIELDS, **self.conn_fields},
            "ui-field-behaviour": dict(self.ui_field_behaviour),
        }


#: form fields of every jobnode connection: how the provider waits, not how the platform is reached
COMMON_FIELDS: dict[str, Any] = {
    "poll_interval": {
        "label": "Poll interval (seconds)",
        "description": "Seconds between two status requests of the shared poller when the platform has no push "
        "channel (one request covers every waiting task of this connection).",
        "schema": {"type": ["number", "null"], "minimum": 0.1, "default": DEFAULT_POLL_INTERVAL},
    },
    "watch": {
        "label": "Use the push channel",
        "description": "Wait through the platform's server-sent events when it has them; turn off behind proxies "
        "that cut long-lived responses.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Timeout of one HTTP request to the platform.",
        "schema": {"type": ["number", "null"], "minimum": 1},
    },
}


def extra_field(conn: ConnectionLike, name: str) -> Any:
    """An extra field, as the connection form stores it (`extra__<conn type>__<name>`) or written by hand."""
    extra = conn.extra_dejson
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__{conn.conn_type}__{name}")
    return value


def _number(conn: ConnectionLike, name: str, default: float | None, minimum: float) -> float | None:
    value = extra_field(conn, name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= minimum:
        raise ConfigurationError(
            f"connection {conn.conn_id!r}: extra field {name!r} must be a number of seconds >= {minimum:g} "
            f"(got {value!r}); fix it in the connection's extra"
        )
    return number


def _flag(conn: ConnectionLike, name: str, default: bool) -> bool:
    value = extra_field(conn, name)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes", "on"):
        return True
    if str(value).lower() in ("false", "0", "no", "off"):
        return False
    raise ConfigurationError(f"connection {conn.conn_id!r}: extra field {name!r} must be true or false (got {value!r})")


def service_url(conn: ConnectionLike, *, scheme: str = "http", port: int | None = DEFAULT_PORT) -> str:
    """The base URL of a service from a connection's host (a host name or a whole URL), port and schema.

    `scheme` and `port` stand in for empty schema and port fields (`port=None`: no port in the URL).

    Example:
        ```python
        service_url(Connection(conn_id="c", conn_type="jobnode", host="127.0.0.1", port=8765))
        # 'http://127.0.0.1:8765'
        ```
    """
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise ConfigurationError(
            f"connection {conn.conn_id!r} has no host: set it to the service's address, e.g. 127.0.0.1 with port "
            f"{DEFAULT_PORT}, or a whole URL such as https://jobs.example.com"
        )
    if "://" in host:
        return host
    scheme = (conn.schema or scheme).strip().lower()
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"connection {conn.conn_id!r}: scheme (the schema field) must be http or https")
    port = conn.port or port
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def _request_timeout(conn: ConnectionLike) -> dict[str, float]:
    """The `timeout` option of a backend, when the connection sets one."""
    timeout = _number(conn, "timeout", None, 1.0)
    return {} if timeout is None else {"timeout": timeout}


def local_options(conn: ConnectionLike) -> dict[str, Any]:
    """The `local` backend's options: the service URL and the bearer token (the connection's password)."""
    return {"url": service_url(conn), "token": conn.password or None, **_request_timeout(conn)}


def _text(conn: ConnectionLike, name: str) -> str | None:
    value = extra_field(conn, name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"connection {conn.conn_id!r}: extra field {name!r} must be text (got {value!r})")
    return value.strip() or None


def _deployments(conn: ConnectionLike) -> dict[str, str] | None:
    value = extra_field(conn, "deployments")
    if value in (None, "", {}):
        return None
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise ConfigurationError(
            f"connection {conn.conn_id!r}: extra field 'deployments' must be a JSON object of step names to Nexus "
            f'deployment or artifact ids, such as {{"sentiment": "deploy_3286bd71-..."}} (got {value!r})'
        )
    return dict(parsed)


def nexus_options(conn: ConnectionLike) -> dict[str, Any]:
    """The `nexus` backend's options: the endpoint (the host; Datature's API when empty), the project's secret key
    (the password), the project (extra `project_id`, required) and, optionally, the webhook that receives the
    results (`webhook_id`) and the step names mapped to deployments (`deployments`).

    Example:
        ```python
        nexus_options(Connection(conn_id="c", conn_type="jobnode_nexus", password="key",
                                 extra='{"project_id": "proj_b705a"}'))
        # {'url': 'https://api.datature.io', 'token': 'key', 'project_id': 'proj_b705a'}
        ```
    """
    project_id = _text(conn, "project_id")
    if project_id is None:
        raise ConfigurationError(
            f"connection {conn.conn_id!r} has no project: set the extra field 'project_id' to your Nexus project's "
            "id (proj_...)"
        )
    options: dict[str, Any] = {
        "url": service_url(conn, scheme="https", port=None) if (conn.host or "").strip() else NEXUS_URL,
        "token": conn.password or None,
        "project_id": project_id,
        **_request_timeout(conn),
    }
    webhook_id = _text(conn, "webhook_id")
    if webhook_id is not None:
        options["webhook_id"] = webhook_id
    deployments = _deployments(conn)
    if deployments is not None:
        options["deployments"] = deployments
    return options


CONNECTION_TYPES: dict[str, ConnectionType] = {
    "jobnode": ConnectionType(
        conn_type="jobnode",
        platform="local",
        hook_class="jobnode.airflow.hooks.JobnodeHook",
        hook_name="jobnode local job service",
        options=local_options,
        ui_field_behaviour={
            "hidden-fields": ["login"],
            "relabeling": {"password": "Token", "schema": "Scheme"},
            "placeholders": {
                "host": "127.0.0.1 or https://jobs.example.com",
                "port": str(DEFAULT_PORT),
                "schema": "http",
                "password": "the service's bearer token (JOBNODE_TOKEN)",
            },
        },
    ),
    "jobnode_nexus": ConnectionType(
        conn_type="jobnode_nexus",
        platform="nexus",
        hook_class="jobnode.airflow.hooks.JobnodeNexusHook",
        hook_name="jobnode Datature Nexus",
        options=nexus_options,
        conn_fields={
            "project_id": {
                "label": "Project ID",
                "description": "The Nexus project whose batch jobs run (proj_...).",
                "schema": {"type": ["string", "null"]},
            },
            "webhook_id": {
                "label": "Webhook ID",
                "description": "The webhook that receives the results of jobs that name none (webhook_...).",
                "schema": {"type": ["string", "null"]},
            },
            "deployments": {
                "label": "Deployments",
                "description": "Step names mapped to Nexus deployment or artifact ids, as a JSON object, e.g. "
                '{"sentiment": "deploy_3286bd71-..."}; other steps run on deploy_<step>.',
                "schema": {"type": ["object", "null"]},
            },
        },
        ui_field_behaviour={
            "hidden-fields": ["login", "port", "schema"],
            "relabeling": {"host": "Endpoint", "password": "Secret key"},
            "placeholders": {
                "host": NEXUS_URL,
                "password": "the project's secret key",
                "project_id": "proj_...",
            },
        },
    ),
}


def client_settings(conn: ConnectionLike) -> ClientSettings:
    """How to build a client for a connection of any jobnode connection type.

    Raises:
        ConfigurationError: the connection type is not a jobnode one, or a field is wrong (the message names it).
    """
    kind = CONNECTION_TYPES.get(conn.conn_type or "")
    if kind is None:
        known = ", ".join(sorted(CONNECTION_TYPES))
        raise ConfigurationError(
            f"connection {conn.conn_id!r} has type {conn.conn_type!r}, which is not a jobnode connection type; "
            f"use one of: {known}"
        )
    return ClientSettings(
        platform=kind.platform,
        options=kind.options(conn),
        poll_interval=_number(conn, "poll_interval", DEFAULT_POLL_INTERVAL, 0.1) or DEFAULT_POLL_INTERVAL,
        watch=_flag(conn, "watch", True),
    )
