"""`JobnodeJobLink`: the "jobnode job" button of a task, to the job it started; and the XCom keys it reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

#: XCom keys that jobnode tasks push: the current job's id and URL, and every job the task started (one per retry
#: that had to start a new job), which the cleanup operator reads
XCOM_JOB_ID = "job_id"
XCOM_JOB_URL = "job_url"
XCOM_JOB_IDS = "job_ids"


class JobnodeJobLink(BaseOperatorLink):
    """A link from the task to its job on the platform (the URL pushed to XCom as `job_url`).

    Example:
        ```python
        class MyOperator(BaseOperator):
            operator_extra_links = (JobnodeJobLink(),)
        ```
    """

    name = "jobnode job"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(ti_key=ti_key, key=XCOM_JOB_URL)
        return str(url) if url else ""
