"""OpenLineage facets of jobnode tasks: a job's inputs and outputs as datasets and its id as a run facet (submit
and sensor, also when the job failed), the job whose log was read (logs), the artifacts a cleanup dropped.

A job is named by two standard run facets: `externalQuery` (its id, and the platform's namespace as the source) and
`tags` (`jobnode.job_url`, the page a person opens to look at it, such as the local service's console; and
`jobnode.platform`), so that a lineage tool links to the job without a facet schema of jobnode's own.

Naming: a job's artifacts live in the namespace `jobnode-<platform>://<host[:port]>` of the platform that holds
them, named `artifacts/<artifact id>`; files follow OpenLineage's conventions (`s3://bucket` + key, `file` + path).
Imported only when OpenLineage asks (apache-airflow-providers-openlineage is an optional dependency).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from jobnode.core.models import ArtifactRef, Job


def platform_namespace(platform: str, url: str | None) -> str:
    """The OpenLineage namespace of a platform, from the URL of one of its jobs.

    Example:
        ```python
        platform_namespace(job.platform, job.url)   # 'jobnode-local://127.0.0.1:8765'
        ```
    """
    netloc = urlsplit(url or "").netloc or "unknown"
    return f"jobnode-{platform}://{netloc}"


def file_dataset_name(path: str) -> tuple[str, str]:
    """(namespace, name) of a file or prefix, after OpenLineage's naming conventions."""
    parts = urlsplit(path)
    if parts.scheme and parts.scheme != "file" and len(parts.scheme) > 1:
        return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"
    return "file", parts.path if parts.scheme == "file" else path


def no_lineage() -> Any:
    """The lineage of a task that never got to a job."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage()


def job_lineage(job: Job, *, files: Iterable[str] = (), artifacts: Iterable[str] = ()) -> Any:
    """The `OperatorLineage` of a job, whatever its state: its inputs and outputs, its id as a run facet.

    Args:
        job: the job (its inputs and outputs are artifact references).
        files: the files or prefixes the job read (its `files=` or `delimited=` input).
        artifacts: the artifact references of its `artifacts=` input (`artifact id` or `job_id/output_name`), used
            when the platform does not list the job's input artifacts itself.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    namespace = platform_namespace(job.platform, job.url)

    def artifact(ref: ArtifactRef | str) -> Dataset:
        artifact_id = ref if isinstance(ref, str) else ref.id
        return Dataset(namespace=namespace, name=f"artifacts/{artifact_id}")

    refs: list[ArtifactRef | str] = [*job.inputs] or [*artifacts]
    inputs = [artifact(ref) for ref in refs]
    inputs += [Dataset(namespace=ns, name=name) for ns, name in map(file_dataset_name, files)]
    return OperatorLineage(
        inputs=inputs, outputs=[artifact(ref) for ref in job.outputs], run_facets=_job_facets(job, namespace)
    )


def logs_lineage(job: Job, output: str | None) -> Any:
    """The lineage of a task that read a job's log: the job as a run facet, the file it wrote as its output."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    outputs = [Dataset(namespace=ns, name=name) for ns, name in map(file_dataset_name, [output] if output else [])]
    return OperatorLineage(outputs=outputs, run_facets=_job_facets(job, platform_namespace(job.platform, job.url)))


def cleanup_lineage(namespace: str, deleted_artifacts: Iterable[str]) -> Any:
    """The lineage of a cleanup: each artifact it deleted, as an output whose lifecycle changed to DROP."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset
    from openlineage.client.facet_v2 import lifecycle_state_change_dataset as lifecycle

    dropped = lifecycle.LifecycleStateChangeDatasetFacet(lifecycleStateChange=lifecycle.LifecycleStateChange.DROP)
    return OperatorLineage(
        outputs=[
            Dataset(namespace=namespace, name=f"artifacts/{a}", facets={"lifecycleStateChange": dropped})
            for a in deleted_artifacts
        ]
    )


def _job_facets(job: Job, namespace: str) -> dict[str, Any]:
    from openlineage.client.facet_v2 import external_query_run, tags_run

    tags = {"jobnode.platform": job.platform, "jobnode.job_url": job.url}
    return {
        "externalQuery": external_query_run.ExternalQueryRunFacet(externalQueryId=job.id, source=namespace),
        "tags": tags_run.TagsRunFacet(
            tags=[tags_run.TagsRunFacetFields(key=k, value=v, source="JOBNODE") for k, v in tags.items() if v]
        ),
    }
