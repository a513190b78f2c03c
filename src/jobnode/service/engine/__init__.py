"""The local job engine: admits jobs, runs their batches, records results, enforces time limits, recovers.

`Engine` composes its parts, one noun each, which share the store and the active jobs (`active.ActiveJobs`) and
import only downward:

- `admission`: creating jobs (idempotently), taking them into memory, recovering after a restart;
- `scheduler`: the run loop (one thread) that claims batches and ends jobs;
- `executors`: the thread and process pools batches run in;
- `outcomes`: recording how each batch ran (results, logs, errors, retries, dead letters);
- `deliveries`: webhook delivery of processed batches;
- `ending`: cancelling, timing out and finishing jobs (and writing their results);
- `deletion`: deleting under the lineage rules.

Example:
    ```python
    engine = Engine(data_dir, step_modules=["my_steps"])
    engine.start()
    service = JobService(engine)
    ```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from jobnode.core.models import DeletePlan, JobState
from jobnode.service.changes import ChangeHub
from jobnode.service.datadir import DataDirLock
from jobnode.service.engine.active import ActiveJobs
from jobnode.service.engine.admission import Admission, EncodedBatch, EngineConflict, NewJob
from jobnode.service.engine.deletion import Deletion
from jobnode.service.engine.deliveries import Deliveries
from jobnode.service.engine.ending import Ending
from jobnode.service.engine.executors import Executors
from jobnode.service.engine.outcomes import Outcomes
from jobnode.service.engine.scheduler import Scheduler
from jobnode.service.inputs import InputResolver
from jobnode.service.steps import REGISTRY, StepRegistry, load_step_modules
from jobnode.service.store import Store

__all__ = ["EncodedBatch", "Engine", "EngineConflict", "NewJob"]


class Engine:
    """Runs jobs stored in a data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        step_modules: Sequence[str] = (),
        registry: StepRegistry = REGISTRY,
        threads: int = 32,
        processes: int | None = None,
        tick: float = 0.25,
        allowed_roots: Sequence[Path] = (),
        allowed_protocols: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        """`allowed_roots`: the directories local file inputs may come from (default: the data directory and the
        current directory); `allowed_protocols` and `allowed_hosts`: what else inputs may read (see
        `jobnode.service.inputs`).

        Raises:
            ConfigurationError: another engine holds the data directory.
        """
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(data_dir)
        self.artifacts_dir = data_dir / "artifacts"
        self.artifacts_dir.mkdir(exist_ok=True)
        self.cancel_dir = data_dir / "cancelled"
        self.cancel_dir.mkdir(exist_ok=True)
        self.store = Store(data_dir / "jobnode.db")
        self.inputs = InputResolver(
            self.store,
            roots=list(allowed_roots) or [data_dir, Path.cwd()],
            protocols=allowed_protocols,
            hosts=allowed_hosts,
        )
        self.registry = registry
        self.step_modules = load_step_modules(step_modules)
        self.changes = ChangeHub()
        self._active = ActiveJobs()
        self._deliveries = Deliveries(self.store, self._active)
        self._ending = Ending(self.store, self._active, artifacts_dir=self.artifacts_dir, cancel_dir=self.cancel_dir)
        outcomes = Outcomes(self.store, self._active, self._deliveries)
        self._admission = Admission(
            self.store, self._active, registry, ending=self._ending, outcomes=outcomes, deliveries=self._deliveries
        )
        self._deletion = Deletion(self.store, cancel_dir=self.cancel_dir)
        self._executors = Executors(
            lambda outcome: self._scheduler.report(outcome),
            self._active.is_stopped,
            step_modules=self.step_modules,
            cancel_dir=self.cancel_dir,
            threads=threads,
            processes=processes or os.cpu_count() or 2,
        )
        self._scheduler = Scheduler(
            self.store,
            self._active,
            self.changes,
            outcomes=outcomes,
            deliveries=self._deliveries,
            ending=self._ending,
            executors=self._executors,
            tick=tick,
        )

    # -- life cycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._admission.recover()
        self._scheduler.start()

    def stop(self) -> None:
        """Stop running batches. Those under way run again after a restart, as the same attempt: stopping the
        service is not their failure (a crash counts; see `Admission.recover`)."""
        self._scheduler.stop()
        with self.store.write(durable=True) as conn:
            self.store.batches.release(conn, [(job.id, idx) for job in self._active.all() for idx in job.inflight])
        self._executors.shutdown()
        self._deliveries.close()
        self.store.close()
        self._lock.release()

    # -- requests from the API ----------------------------------------------------------------------------------

    def create(self, new: NewJob) -> tuple[str, bool]:
        """Store a job and its batches durably; returns (job id, created). An idempotency key that was already
        used returns the job it created."""
        job_id, created = self._admission.create(new)
        if created:
            self.changes.notify({job_id})
        return job_id, created

    def cancel(self, job_id: str, reason: str = "cancelled by request") -> bool:
        """Cancel a job; cancelling a finished job changes nothing. Returns whether it was cancelled now."""
        changed: set[str] = set()
        with self.store.write(durable=True) as conn:
            ended = self._ending.stop(conn, job_id, JobState.CANCELLED, reason, changed)
        if changed:
            self.changes.notify(changed)
        return ended

    def delete(
        self,
        job_id: str,
        *,
        delete_outputs: bool = False,
        delete_subjobs: bool = False,
        dry_run: bool = False,
        deleted_by: str | None = None,
    ) -> DeletePlan:
        """Plan deleting a job under the lineage rules and, unless refused or a dry run, carry the plan out."""
        return self._deletion.delete_job(
            job_id,
            delete_outputs=delete_outputs,
            delete_subjobs=delete_subjobs,
            dry_run=dry_run,
            deleted_by=deleted_by,
        )

    def delete_artifact(self, artifact_id: str, *, dry_run: bool = False, deleted_by: str | None = None) -> DeletePlan:
        """Delete an output artifact on its own, unless a job still reads it."""
        return self._deletion.delete_artifact(artifact_id, dry_run=dry_run, deleted_by=deleted_by)

    def active_ids(self) -> list[str]:
        return self._active.ids()
