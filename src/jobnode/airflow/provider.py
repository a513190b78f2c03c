"""The provider info Airflow reads through the `apache_airflow_provider` entry point (`airflow providers list`)."""

from __future__ import annotations

from typing import Any

from jobnode.airflow.connections import connection_types

INTEGRATION = "jobnode"


def get_provider_info() -> dict[str, Any]:
    """The provider's hooks, operators, sensors, triggers, extra links and connection types (with form fields).

    Example:
        ```python
        get_provider_info()["connection-types"][0]["connection-type"]   # 'jobnode'
        ```
    """
    from jobnode import __version__

    def modules(*names: str) -> list[dict[str, Any]]:
        return [{"integration-name": INTEGRATION, "python-modules": [f"jobnode.airflow.{n}" for n in names]}]

    return {
        "package-name": "jobnode",
        "name": "jobnode",
        "description": "Remote batch jobs (the jobnode local job service and other job platforms) as DAG nodes: "
        "submit, deferrable wait, logs, lineage-aware cleanup, cancel.",
        "versions": [__version__],
        "integrations": [{"integration-name": INTEGRATION, "tags": ["service"]}],
        "hooks": modules("hooks"),
        "operators": modules("operators"),
        "sensors": modules("sensors"),
        "triggers": modules("triggers"),
        "extra-links": ["jobnode.airflow.links.JobnodeJobLink"],
        "connection-types": [kind.provider_entry() for kind in connection_types().values()],
    }
