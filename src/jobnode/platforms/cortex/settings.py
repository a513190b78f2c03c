"""Where a Cortex cluster's Batch APIs answer, and what jobnode sends them besides a job's own fields."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from jobnode.platforms.cortex.paths import is_s3_path
from jobnode.platforms.platform import PlatformSettings


class CortexSettings(PlatformSettings):
    url: str = Field(
        title="Endpoint",
        description="Where the Batch APIs answer: a Batch API's endpoint is <url>/<api_name> (the API load "
        "balancer that `cortex get <api_name>` shows, or <operator endpoint>/batch), or a local "
        "`jobnode serve --platform cortex`.",
        examples=["https://a1b2c3d4.elb.us-west-2.amazonaws.com", "http://127.0.0.1:8080"],
    )
    token: SecretStr | None = Field(
        default=None,
        title="Token",
        description="A bearer token, for an endpoint that asks for one (a `jobnode serve --platform cortex` "
        "started with a token); Cortex's own Batch API endpoints take none.",
    )
    timeout: float = Field(default=60.0, gt=0, title="Request timeout (seconds)", description="Timeout of one request.")
    api_name: str | None = Field(
        default=None,
        title="API name",
        description="The Batch API of job ids given without one (`<job_id>` rather than `<api_name>/<job_id>`), "
        "and whose jobs `jobs.list()` lists. A job's `step` names the Batch API it runs on.",
        examples=["image-classifier"],
    )
    dest_s3_dir: str | None = Field(
        default=None,
        title="Results directory (dest_s3_dir)",
        description="Sent as a job's `config.dest_s3_dir` when its parameters name none: the S3 directory under "
        "which a Batch API writes each job's results, in <dest_s3_dir>/<job_id>/ (the convention of Cortex's "
        "own examples, which the emulator follows). jobnode reports that prefix as the job's output.",
        examples=["s3://my-bucket/results"],
    )
    dead_letter_queue_arn: str | None = Field(
        default=None,
        title="Dead-letter queue ARN",
        description="The SQS queue that receives each batch that failed `max_attempts` times "
        "(`sqs_dead_letter_queue`); without one Cortex does not retry a failed batch.",
        examples=["arn:aws:sqs:us-west-2:123456789012:failed.fifo"],
    )

    @field_validator("api_name", "dead_letter_queue_arn")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty; leave it out or give a value")
        return value.strip() if value is not None else None

    @field_validator("dest_s3_dir")
    @classmethod
    def _s3_dir(cls, value: str | None) -> str | None:
        if value is not None and not is_s3_path(value):
            raise ValueError("give an S3 directory, such as s3://my-bucket/results")
        return value
