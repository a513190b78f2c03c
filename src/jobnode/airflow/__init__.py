"""jobnode's Airflow provider: remote batch jobs as nodes of Airflow DAGs.

Import what you need from its modules, as with any Airflow provider (each stays cheap to import, so DAG files
parse fast):

- `jobnode.airflow.operators`: `JobnodeSubmitJobOperator`, `JobnodeFetchLogsOperator`, `JobnodeCleanupOperator`,
  `JobnodeCancelJobOperator`
- `jobnode.airflow.sensors`: `JobnodeJobSensor`
- `jobnode.airflow.triggers`: `JobnodeJobTrigger`
- `jobnode.airflow.hooks`: `JobnodeHook`
- `jobnode.airflow.links`: `JobnodeJobLink`

Example:
    ```python
    from jobnode.airflow.operators import JobnodeSubmitJobOperator

    score = JobnodeSubmitJobOperator(task_id="score", step="sentiment", items=["good", "bad"])
    ```
"""
