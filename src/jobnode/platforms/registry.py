"""The platforms jobnode knows: the folders under `jobnode/platforms/` and the `jobnode.platforms` entry points.

A folder is a platform when its `__init__.py` exports `PLATFORM` (a `Platform`). Another package adds one with an
entry point whose value names its descriptor:

```toml
[project.entry-points."jobnode.platforms"]
acme = "acme_jobs.jobnode:PLATFORM"
```
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
from importlib.metadata import entry_points

from jobnode.core.errors import ConfigurationError
from jobnode.platforms.platform import Platform, import_target

log = logging.getLogger("jobnode.platforms")

ENTRY_POINT_GROUP = "jobnode.platforms"


@functools.cache
def platforms() -> dict[str, Platform]:
    """Every known platform by name: the built-in ones first (local first of all), then those of entry points."""
    found: dict[str, Platform] = {}
    package = importlib.import_module("jobnode.platforms")
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)
    for name in sorted(names, key=lambda n: n != "local"):
        descriptor = getattr(importlib.import_module(f"jobnode.platforms.{name}"), "PLATFORM", None)
        if isinstance(descriptor, Platform):
            found[descriptor.name] = descriptor
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            descriptor = import_target(entry.value)
        except Exception as exc:  # a broken plug-in must not break every other platform
            log.warning("cannot load the jobnode platform %r (%s): %s", entry.name, entry.value, exc)
            continue
        if not isinstance(descriptor, Platform):
            log.warning("the jobnode platform entry point %r does not name a Platform", entry.name)
            continue
        found.setdefault(descriptor.name, descriptor)
    return found


def get_platform(name: str) -> Platform:
    """The platform called `name`.

    Raises:
        ConfigurationError: no such platform; the message lists the known ones.
    """
    known = platforms()
    try:
        return known[name]
    except KeyError:
        raise ConfigurationError(f"unknown platform {name!r}; known platforms: {', '.join(known)}") from None


def by_conn_type(conn_type: str) -> Platform | None:
    """The platform of an Airflow connection type, if it is a jobnode one."""
    return next((p for p in platforms().values() if p.conn_type == conn_type), None)


def reload() -> None:
    """Forget what was found, so that platforms registered since are found (for tests and plug-in development)."""
    platforms.cache_clear()
