"""The toy platform's backend: jobs in memory, one shelf per backend."""

from __future__ import annotations

from jobnode.testing import InMemoryBackend
from tests.platforms.toy import ToySettings


class ToyBackend(InMemoryBackend):
    platform = "toy"

    def __init__(self, shelf: str) -> None:
        super().__init__(watch=False)
        self.shelf = shelf


def create(settings: ToySettings) -> ToyBackend:
    return ToyBackend(settings.shelf)
