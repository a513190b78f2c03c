"""The emulation kit: what every platform emulator (and the native `/v1` API) would otherwise write again.

- `errors`: error answers in the platform's own shape, and handlers that make every failure one of them;
- `guards`: the secret check (`bearer`, `basic_user`, `header(...)`), a per-secret rate limit, the `Host` check of a
  service without a token, and the request-size limit;
- `responses`: strict JSON bodies in, compact JSON out;
- `Documents` (the platform's own objects, stored beside the jobs) and `JobService` (the jobs themselves);
- `step` and `ItemError`, for an emulator whose platform's own processing (a Nucleus append) is a step of its own.
- `compile_glob` and `select`: the service's include/exclude glob filtering of file paths (Cortex's rules), for an
  emulator that lists its platform's files itself.

An emulator is a function `create_app(service: JobService, *, token: str | None) -> ASGI app` named by its
platform's descriptor; `jobnode serve --platform NAME` mounts it at the descriptor's `emulator_prefix`.

Example:
    ```python
    def create_app(service: JobService, *, token: str | None = None) -> FastAPI:
        app = FastAPI()
        install_error_handlers(app, my_error_shape)

        @app.get("/jobs/{job_id}")
        def get_job(job_id: str) -> Response:
            return json_response(to_wire(service.get(job_id)))

        return guard(app, shape=my_error_shape, token=token, read=header("x-api-key"))
    ```
"""

from jobnode.service.cursors import BadCursor, decode_cursor, encode_cursor
from jobnode.service.documents import Document, Documents, Listing
from jobnode.service.emulation.errors import ErrorShape, field_path, install_error_handlers, validation_error
from jobnode.service.emulation.guards import (
    BodyLimit,
    CredentialReader,
    Guarded,
    LoopbackHostOnly,
    RateLimiter,
    any_of,
    basic_user,
    bearer,
    guard,
    header,
    loopback_host,
)
from jobnode.service.emulation.responses import StrictJSONRoute, json_response, parse_json, read_json, strict_loads
from jobnode.service.errors import (
    Conflict,
    InvalidRequest,
    JobDeleted,
    NotFound,
    ServiceError,
    TooLarge,
    Unprocessable,
)
from jobnode.service.inputs import compile_glob, select
from jobnode.service.jobs import JobPage, JobService, LogPage, Submitted
from jobnode.service.steps import ItemError, step
from jobnode.service.store.logs import LOG_FIELDS, LogShape

__all__ = [
    "LOG_FIELDS",
    "BadCursor",
    "BodyLimit",
    "Conflict",
    "CredentialReader",
    "Document",
    "Documents",
    "ErrorShape",
    "Guarded",
    "InvalidRequest",
    "ItemError",
    "JobDeleted",
    "JobPage",
    "JobService",
    "Listing",
    "LogPage",
    "LogShape",
    "LoopbackHostOnly",
    "NotFound",
    "RateLimiter",
    "ServiceError",
    "StrictJSONRoute",
    "Submitted",
    "TooLarge",
    "Unprocessable",
    "any_of",
    "basic_user",
    "bearer",
    "compile_glob",
    "decode_cursor",
    "encode_cursor",
    "field_path",
    "guard",
    "header",
    "install_error_handlers",
    "json_response",
    "loopback_host",
    "parse_json",
    "read_json",
    "select",
    "step",
    "strict_loads",
    "validation_error",
]
