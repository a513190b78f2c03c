"""The one place where the client checks what a platform can do before it asks for it."""

from __future__ import annotations

from typing import TypeVar, cast

from jobnode.core.backend import Backend, Capability
from jobnode.core.errors import UnsupportedOperation

P = TypeVar("P")


def check(backend: Backend, capability: Capability) -> None:
    """The one place where jobnode checks what a platform can do.

    Raises:
        UnsupportedOperation: the platform does not offer it; the message names the platform and the operation.
    """
    if not backend.capabilities.supports(capability):
        raise UnsupportedOperation(backend.platform, capability)


def require(backend: Backend, capability: Capability, operation: type[P]) -> P:
    """The backend as the protocol of an optional operation, once `check` says its platform offers it."""
    check(backend, capability)
    return cast(P, backend)
