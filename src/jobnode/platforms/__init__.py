"""Job platforms: one folder each (its `Platform` descriptor, settings, wire models, backend and emulator).

Example:
    ```python
    from jobnode.platforms import create_backend, platforms

    print(list(platforms()))                      # ['local', 'nexus', ...]
    backend = create_backend("local", url="http://127.0.0.1:8765", token="s3cret")
    ```
"""

from __future__ import annotations

from typing import Any

from jobnode.core.backend import Backend
from jobnode.platforms.platform import Platform, PlatformSettings
from jobnode.platforms.registry import by_conn_type, get_platform, platforms

__all__ = ["Platform", "PlatformSettings", "by_conn_type", "create_backend", "get_platform", "platforms"]


def create_backend(platform: str, **options: Any) -> Backend:
    """The backend of `platform`, built from its settings (`url`, `token`, and what the platform needs).

    Raises:
        ConfigurationError: the platform is unknown, or a setting is missing or wrong (the message names it).
    """
    descriptor = get_platform(platform)
    return descriptor.create_backend(descriptor.make_settings(**options))
