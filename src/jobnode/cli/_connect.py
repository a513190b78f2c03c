"""From the command line to a client: which platform, and its settings from flags, `--set` and the environment.

Each setting of a platform (`jobnode.platforms.Platform.settings`) comes, from strongest to weakest, from its flag
(`--url`, `--token`), from `--set FIELD=VALUE`, or from the variable `JOBNODE_<FIELD>` (`JOBNODE_URL`,
`JOBNODE_TOKEN`, `JOBNODE_PROJECT_ID`, ...); the platform is `--platform` or `JOBNODE_PLATFORM` (default `local`).
Settings that take a structure (Nexus's `deployments`) take JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from jobnode.cli._base import UsageError, option
from jobnode.client import Client
from jobnode.platforms import Platform, get_platform

#: where `jobnode serve` listens by default, and so where the command line looks for the local service
LOCAL_URL = "http://127.0.0.1:8765"


def chosen_platform(args: argparse.Namespace) -> Platform:
    return get_platform(option(args, "platform") or os.environ.get("JOBNODE_PLATFORM") or "local")


def env_name(field: str) -> str:
    return f"JOBNODE_{field.upper()}"


def where_from(field: str) -> str:
    """How a user gives a setting, for error messages."""
    if field in ("url", "token"):
        return f"--{field} or {env_name(field)}"
    return f"--set {field}=... or {env_name(field)}"


def settings(platform: Platform, args: argparse.Namespace) -> dict[str, Any]:
    """The platform's settings the user gave, checked for unknown and missing fields (the platform validates
    the values themselves)."""
    fields = platform.settings.model_fields
    values: dict[str, Any] = {}
    for name, info in fields.items():
        raw = os.environ.get(env_name(name))
        if raw:
            values[name] = _value(name, info, raw, env_name(name))
    for assignment in option(args, "settings") or []:
        name, sep, raw = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set {assignment!r}: give FIELD=VALUE, e.g. --set project_id=proj_123")
        if name not in fields:
            raise UsageError(
                f"--set {name}: the {platform.name} platform has no such setting; its settings are {', '.join(fields)}"
            )
        values[name] = _value(name, fields[name], raw, f"--set {name}")
    for name in ("url", "token"):
        given = option(args, name)
        if given:
            values[name] = given
    if "url" not in values and platform.default_url is None and platform.name == "local":
        values["url"] = LOCAL_URL
    missing = [name for name, info in fields.items() if info.is_required() and name not in values]
    if missing:
        name = missing[0]
        about = fields[name].description or fields[name].title or name
        raise UsageError(f"the {platform.name} platform needs {name} ({about.rstrip('.')}): give {where_from(name)}")
    return values


def connect(args: argparse.Namespace) -> Client:
    """A client for the platform and settings the command line names."""
    platform = chosen_platform(args)
    values = settings(platform, args)
    return Client(values.pop("url", None), values.pop("token", None), platform=platform.name, **values)


def _value(name: str, info: FieldInfo, raw: str, source: str) -> Any:
    if not _structured(info.annotation):
        return raw
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"{source}: {name} takes JSON ({info.description or info.title}); {exc}") from None


def _structured(annotation: Any) -> bool:
    """Whether a setting takes a structure (a dict, a list, a model), given as JSON on the command line."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_structured(a) for a in get_args(annotation) if a is not type(None))
    if origin in (dict, list, tuple, set):
        return True
    return isinstance(annotation, type) and issubclass(annotation, BaseModel | dict | list)
