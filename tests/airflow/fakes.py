"""What the provider's unit tests share: `jobnode.testing.InMemoryBackend` as the fake platform, and a wait for a
condition that code under test makes true in the same event loop."""

from __future__ import annotations

from jobnode.testing import InMemoryBackend as FakeBackend
from tests.helpers import eventually

__all__ = ["FakeBackend", "eventually"]
