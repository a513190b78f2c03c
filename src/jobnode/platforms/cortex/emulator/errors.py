"""Cortex's errors: every refusal of the operator is HTTP 400 with `{"kind": ..., "message": ...}`.

The kinds and messages are the operator's own (0.28), so that code which reads them (`kind ==
"job.not_found"`) behaves as against Cortex; where the emulator refuses something Cortex would not, the kind says so
(`jobnode.*`).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from jobnode.service.emulation import ServiceError, TooLarge

SCHEMA_HINT = "\n\njob submission schema can be found at https://docs.cortex.dev/v/0.28/"

API_NOT_DEPLOYED = "resources.api_not_deployed"
QUERY_PARAM_REQUIRED = "endpoints.query_param_required"
JOB_NOT_FOUND = "job.not_found"
NOT_IN_PROGRESS = "job.job_is_not_in_progress"
SPECIFY_EXACTLY_ONE_KEY = "job.specify_exactly_one_key"
CONFLICTING_FIELDS = "job.conflicting_fields"
TOO_FEW_ELEMENTS = "configreader.too_few_elements"
AT_LEAST = "configreader.must_be_greater_than_or_equal_to"
AT_MOST = "configreader.must_be_less_than_or_equal_to"
CANNOT_BE_EMPTY = "configreader.cannot_be_empty"
ITEM_TOO_LARGE = "batchapi.item_size_exceeds_limit"
NO_S3_FILES = "batchapi.no_s3_files_found"
INVALID_S3_PATH = "aws.invalid_s3_path"
INVALID_CONFIG = "jobnode.invalid_config"
#: a Go error that is not one of Cortex's own (bad JSON, a glob that does not compile, an S3 failure)
GO_ERROR = "error"


class CortexError(ServiceError):
    """A refusal in Cortex's words: its `kind` is the error's `code`."""

    def __init__(self, kind: str, message: str, *, status: int = 400) -> None:
        super().__init__(message, code=kind, status=status)


def cortex_error(error: ServiceError) -> Response:
    """Any refusal as Cortex's error body. The service's own refusals (bad JSON, a route that does not exist, a
    missing token) keep their status; as a request-validation failure they are 400, as all of Cortex's."""
    if isinstance(error, TooLarge):  # Go's http.MaxBytesReader, as the operator reads a submission
        message = f"http: request body too large ({error.message})"
        return JSONResponse({"kind": GO_ERROR, "message": message}, status_code=400)
    status = 400 if error.status == 422 else error.status
    if isinstance(error, CortexError):
        kind = error.code
    else:
        kind = GO_ERROR if status == 400 else error.code
    return JSONResponse({"kind": kind, "message": error.message}, status_code=status, headers=error.headers)


def at_least(path: str, got: object, bound: int = 1) -> CortexError:
    return CortexError(AT_LEAST, f"{path}: must be greater than or equal to {bound} (got {got}){SCHEMA_HINT}")


def at_most(path: str, got: object, bound: int) -> CortexError:
    return CortexError(
        AT_MOST, f"{path}: must be less than or equal to {bound} (got {got}) (a limit of jobnode's emulator)"
    )
