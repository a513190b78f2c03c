"""A toy platform, as a third-party package would add one: a descriptor, its settings, a backend and an emulator,
all in this folder, registered through the `jobnode.platforms` entry point (see `test_toy_platform.py`)."""

from __future__ import annotations

from pydantic import Field

from jobnode.core.backend import Capabilities
from jobnode.platforms.platform import Platform, PlatformSettings


class ToySettings(PlatformSettings):
    url: str = Field(default="http://toy.invalid", title="Toy endpoint", description="Where the toys are.")
    shelf: str = Field(title="Shelf", description="The shelf whose jobs run.", examples=["top"])


PLATFORM = Platform(
    name="toy",
    title="Toy Jobs",
    label="Toy",
    settings=ToySettings,
    capabilities=Capabilities(cancel=True, errors=True, bulk_status=True, tags=True, idempotency=True),
    backend="tests.platforms.toy.backend:create",
    emulator="tests.platforms.toy.emulator:create_app",
    emulator_prefix="/toy",
)
