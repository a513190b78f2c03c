"""OpenLineage facets of a jobnode task: the job's inputs and outputs as datasets, the job id as a run facet.

Naming: a job's artifacts live in the namespace `jobnode-<platform>://<host[:port]>` of the platform that holds
them, named `artifacts/<artifact id>`; files follow OpenLineage's conventions (`s3://bucket` + key, `file` + path).
Imported only when OpenLineage asks (apache-airflow-providers-openlineage is an optional dependency).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from jobnode.core.models import ArtifactRef, Job


def platform_namespace(job: Job) -> str:
    """The OpenLineage namespace of the platform that holds a job (from the job's URL).

    Example:
        ```python
        platform_namespace(job)   # 'jobnode-local://127.0.0.1:8765'
        ```
    """
    netloc = urlsplit(job.url or "").netloc or "unknown"
    return f"jobnode-{job.platform}://{netloc}"


def file_dataset_name(path: str) -> tuple[str, str]:
    """(namespace, name) of a file or prefix, after OpenLineage's naming conventions."""
    parts = urlsplit(path)
    if parts.scheme and parts.scheme != "file" and len(parts.scheme) > 1:
        return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"
    return "file", parts.path if parts.scheme == "file" else path


def job_lineage(job: Job, *, files: Iterable[str] = (), artifacts: Iterable[str] = ()) -> Any:
    """The `OperatorLineage` of a finished job.

    Args:
        job: the job (its inputs and outputs are artifact references).
        files: the files or prefixes the job read (its `files=` or `delimited=` input).
        artifacts: the artifact references of its `artifacts=` input (`artifact id` or `job_id/output_name`), used
            when the platform does not list the job's input artifacts itself.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset
    from openlineage.client.facet_v2 import external_query_run

    namespace = platform_namespace(job)

    def artifact(ref: ArtifactRef | str) -> Dataset:
        artifact_id = ref if isinstance(ref, str) else ref.id
        return Dataset(namespace=namespace, name=f"artifacts/{artifact_id}")

    refs: list[ArtifactRef | str] = [*job.inputs] or [*artifacts]
    inputs = [artifact(ref) for ref in refs]
    inputs += [Dataset(namespace=ns, name=name) for ns, name in map(file_dataset_name, files)]
    return OperatorLineage(
        inputs=inputs,
        outputs=[artifact(ref) for ref in job.outputs],
        run_facets={
            "externalQuery": external_query_run.ExternalQueryRunFacet(externalQueryId=job.id, source=namespace)
        },
    )
