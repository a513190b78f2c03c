"""One folder per platform: wire models, a backend over async httpx and, where it has one, an emulator."""

from __future__ import annotations

import importlib
from typing import Any

from jobnode.core.backend import Backend
from jobnode.core.errors import ConfigurationError

#: platform name -> "module:class" of its backend
BACKENDS: dict[str, str] = {
    "local": "jobnode.platforms.local.backend:LocalBackend",
    "nexus": "jobnode.platforms.nexus.backend:NexusBackend",
}

#: platform name -> "module:function" that builds its emulator's ASGI app from a local engine (`engine, *, token`);
#: `jobnode serve --platform NAME` serves it at the root of its own port
EMULATORS: dict[str, str] = {
    "nexus": "jobnode.platforms.nexus.emulator:create_app",
}


def create_backend(platform: str, **options: Any) -> Backend:
    """The backend of `platform`, built from its options (url, token, and what the platform needs)."""
    try:
        target = BACKENDS[platform]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigurationError(f"unknown platform {platform!r}; known platforms: {known}") from None
    module, _, name = target.partition(":")
    backend: Backend = getattr(importlib.import_module(module), name)(**options)
    return backend
