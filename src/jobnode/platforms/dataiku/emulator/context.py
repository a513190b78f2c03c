"""The DSS side of the local service: the flows, the datasets' data, the build jobs and what moves them on, for the
routers of the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from jobnode.platforms.dataiku.emulator.builds import Builds
from jobnode.platforms.dataiku.emulator.data import Datasets
from jobnode.platforms.dataiku.emulator.driver import Driver
from jobnode.platforms.dataiku.emulator.errors import unknown
from jobnode.platforms.dataiku.emulator.flow import NAME, Dataset, Flow, FlowDeclaration, Flows
from jobnode.service.emulation import JobService

T = TypeVar("T")


class Dss:
    """Everything the emulator keeps, over one `JobService`."""

    def __init__(self, service: JobService, declaration: FlowDeclaration) -> None:
        documents = service.documents("dataiku")
        self.service = service
        self.datasets = Datasets(service, documents)
        self.flows = Flows(declaration, steps=lambda: [s.name for s in service.steps()], uploaded=self.datasets.names)
        self.builds = Builds(service, documents, self.datasets, self.flows)
        self.driver = Driver(service, self.builds)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call` in a worker thread (it reads and writes the database)."""
        return await run_in_threadpool(call, *args)

    def dataset(self, project_key: str, name: str) -> tuple[Flow, Dataset]:
        """A dataset of the project's flow, or 404."""
        flow = self.flows.get(project_key)
        found = flow.dataset(name)
        if found is None:
            raise unknown(f"Dataset {project_key}.{name} does not exist")
        return flow, found


def project(key: str) -> str:
    """A project key from a path, or 404 (DSS's keys are letters, digits and underscores)."""
    if not NAME.match(key):
        raise unknown(f"Project {key!r} does not exist (a project key is letters, digits and underscores)")
    return key
