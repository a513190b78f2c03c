"""Airflow connection types, derived from the platforms' descriptors: one type per platform, its form fields, and
how a connection becomes the platform's settings.

Every platform gets a connection type (`Platform.conn_type`): the host is its URL (a host name, or a whole URL),
the password its token, and each of its own settings an extra field of the form, labelled and described as in the
platform's settings model. Fields every jobnode connection has (`COMMON_FIELDS`) say how the provider waits. This
module imports nothing heavy: Airflow reads it whenever it lists providers.
"""

from __future__ import annotations

import contextlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from jobnode.core.errors import ConfigurationError
from jobnode.platforms import Platform, by_conn_type, platforms

DEFAULT_POLL_INTERVAL = 5.0


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
        options: the platform's settings that the connection gives (url, token, ...); never shown in a repr.
        poll_interval: seconds between two status requests when the platform has no push channel.
        watch: whether to use the platform's push channel (server-sent events) when it has one.
    """

    platform: str
    options: dict[str, Any] = field(repr=False)
    poll_interval: float = DEFAULT_POLL_INTERVAL
    watch: bool = True


#: form fields of every jobnode connection: how the provider waits, not how the platform is reached
COMMON_FIELDS: dict[str, Any] = {
    "poll_interval": {
        "label": "Poll interval (seconds)",
        "description": "Seconds between two status requests of the shared watcher when the platform has no push "
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
    "requests_per_second": {
        "label": "Rate limit (requests per second)",
        "description": "The most requests this connection sends the platform per second, from one worker or "
        "triggerer process; empty: the platform's default.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
    "max_concurrency": {
        "label": "Requests at once",
        "description": "The most requests this connection has in flight at once, from one process.",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
}

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}
_KIND_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a JSON array",
}


def _json_type(info: FieldInfo) -> str:
    """The JSON type of a setting (`str | None` is "string", `dict[str, str]` is "object")."""
    annotation = info.annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        origin = typing.get_origin(candidate) or candidate
        if origin in _JSON_TYPES:
            return _JSON_TYPES[origin]
    return "string"


@dataclass(frozen=True)
class ConnectionType:
    """One Airflow connection type, derived from a platform's descriptor."""

    platform: Platform

    @property
    def conn_type(self) -> str:
        return self.platform.conn_type

    @property
    def hook_class(self) -> str:
        """The dotted path of the hook class registered for this type (`jobnode.airflow.hooks`)."""
        return f"jobnode.airflow.hooks.{hook_class_name(self.platform)}"

    @property
    def hook_name(self) -> str:
        return f"jobnode {self.platform.title}"

    def conn_fields(self) -> dict[str, Any]:
        """The form's extra fields: the common ones, then each of the platform's own settings."""
        fields = dict(COMMON_FIELDS)
        for name, info in self.platform.settings.own_fields().items():
            schema: dict[str, Any] = {"type": [_json_type(info), "null"]}
            fields[name] = {"label": info.title or name, "description": info.description or "", "schema": schema}
        return fields

    def ui_field_behaviour(self) -> dict[str, Any]:
        """Hidden fields, relabelings and placeholders of the standard form fields."""
        settings = self.platform.settings.model_fields
        hidden = ["login"]
        relabeling = {"password": settings["token"].title or "Token"}
        placeholders: dict[str, str] = {}
        if self.platform.url_port is None:
            hidden += ["port", "schema"]
            relabeling["host"] = settings["url"].title or "Host"
            placeholders["host"] = self.platform.default_url or _example(settings["url"]) or ""
        else:
            relabeling["schema"] = "Scheme"
            placeholders.update(
                host=f"127.0.0.1 or {self.platform.url_scheme}://jobs.example.com",
                port=str(self.platform.url_port),
                schema=self.platform.url_scheme,
            )
        placeholders["password"] = settings["token"].description or ""
        for name, info in self.platform.settings.own_fields().items():
            example = _example(info)
            if example:
                placeholders[name] = example
        return {"hidden-fields": hidden, "relabeling": relabeling, "placeholders": placeholders}

    def provider_entry(self) -> dict[str, Any]:
        """The `connection-types` entry of the provider info."""
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            "conn-fields": self.conn_fields(),
            "ui-field-behaviour": self.ui_field_behaviour(),
        }

    def options(self, conn: ConnectionLike) -> dict[str, Any]:
        """The platform's settings that the connection gives (left-out ones take the platform's defaults)."""
        platform = self.platform
        url = service_url(conn, scheme=platform.url_scheme, port=platform.url_port, default=platform.default_url)
        options: dict[str, Any] = {"url": url, "token": conn.password or None}
        for name, minimum in (("timeout", 1.0), ("requests_per_second", 0.001), ("max_concurrency", 1.0)):
            value = _number(conn, name, None, minimum)
            if value is not None:
                options[name] = int(value) if name == "max_concurrency" else value
        for name, info in platform.settings.own_fields().items():
            value = _own_field(conn, name, info)
            if value is not None:
                options[name] = value
        return options


def _example(info: FieldInfo) -> str | None:
    if not info.examples:
        return None
    example = info.examples[0]
    return example if isinstance(example, str) else json.dumps(example)


def hook_class_name(platform: Platform) -> str:
    """The name of a platform's hook class: `JobnodeHook` for the connection type `jobnode`, else
    `Jobnode<Label>Hook`."""
    return "JobnodeHook" if platform.conn_type == "jobnode" else f"Jobnode{platform.label}Hook"


def connection_types() -> dict[str, ConnectionType]:
    """Every platform's connection type, by conn type."""
    return {p.conn_type: ConnectionType(p) for p in platforms().values()}


def extra_field(conn: ConnectionLike, name: str) -> Any:
    """An extra field, as the connection form stores it (`extra__<conn type>__<name>`) or written by hand."""
    extra = conn.extra_dejson
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__{conn.conn_type}__{name}")
    return value


def _own_field(conn: ConnectionLike, name: str, info: FieldInfo) -> Any:
    """A platform setting from the connection's extra, checked against its type; a required one must be there."""
    value = extra_field(conn, name)
    if isinstance(value, str):
        value = value.strip()
    if value in (None, "", {}, []):
        if info.is_required():
            raise ConfigurationError(
                f"connection {conn.conn_id!r} has no {(info.title or name).lower()}: set the extra field {name!r} "
                f"({info.description or 'see the platform docs'})"
            )
        return None
    kind = _json_type(info)
    if kind in ("object", "array") and isinstance(value, str):
        with contextlib.suppress(ValueError):  # not JSON: the type check below says what to give
            value = json.loads(value)
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, info.annotation))
        return adapter.validate_python(value, strict=kind == "string")
    except ValidationError:
        raise ConfigurationError(
            f"connection {conn.conn_id!r}: extra field {name!r} must be {_KIND_WORDS[kind]} "
            f"({info.description or 'see the platform docs'}; got {value!r})"
        ) from None


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


def service_url(
    conn: ConnectionLike, *, scheme: str = "http", port: int | None = 8765, default: str | None = None
) -> str:
    """The base URL of a service from a connection's host (a host name or a whole URL), port and schema.

    `scheme` and `port` stand in for empty schema and port fields (`port=None`: no port in the URL); `default`
    stands in for an empty host (a platform's public API).

    Example:
        ```python
        service_url(Connection(conn_id="c", conn_type="jobnode", host="127.0.0.1", port=8765))
        # 'http://127.0.0.1:8765'
        ```
    """
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        if default is not None:
            return default
        raise ConfigurationError(
            f"connection {conn.conn_id!r} has no host: set it to the service's address, e.g. 127.0.0.1 with port "
            f"{port or 443}, or a whole URL such as https://jobs.example.com"
        )
    if "://" in host:
        return host
    scheme = (conn.schema or scheme).strip().lower()
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"connection {conn.conn_id!r}: scheme (the schema field) must be http or https")
    port = conn.port or port
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def client_settings(conn: ConnectionLike) -> ClientSettings:
    """How to build a client for a connection of any jobnode connection type.

    Raises:
        ConfigurationError: the connection type is not a jobnode one, or a field is wrong (the message names it).
    """
    platform = by_conn_type(conn.conn_type or "")
    if platform is None:
        known = ", ".join(connection_types())
        raise ConfigurationError(
            f"connection {conn.conn_id!r} has type {conn.conn_type!r}, which is not a jobnode connection type; "
            f"use one of: {known}"
        )
    return ClientSettings(
        platform=platform.name,
        options=ConnectionType(platform).options(conn),
        poll_interval=_number(conn, "poll_interval", DEFAULT_POLL_INTERVAL, 0.1) or DEFAULT_POLL_INTERVAL,
        watch=_flag(conn, "watch", True),
    )
