"""DSS's error answers: `{"errorType", "message", "detailedMessage"}` with a 4xx status (never a 500 for bad input).

The API client shows `errorType: detailedMessage`; the error types are the Java exception classes DSS names.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from jobnode.platforms.dataiku import wire
from jobnode.service.emulation import ServiceError

UNKNOWN_OBJECT = "com.dataiku.dip.exceptions.UnknownObjectException"
UNAUTHORIZED = "com.dataiku.dip.exceptions.UnauthorizedException"
ILLEGAL_ARGUMENT = "java.lang.IllegalArgumentException"
ILLEGAL_STATE = "java.lang.IllegalStateException"
UNSUPPORTED = "java.lang.UnsupportedOperationException"
INTERNAL = "java.lang.RuntimeException"
_TYPES = {401: UNAUTHORIZED, 403: UNAUTHORIZED, 404: UNKNOWN_OBJECT, 405: UNSUPPORTED, 409: ILLEGAL_STATE}


def dss_error(error: ServiceError) -> Response:
    """A refusal in DSS's shape; a request that fails validation is a 400 there, as any bad argument."""
    status = 400 if error.status == 422 else error.status
    error_type = _TYPES.get(status, INTERNAL if status >= 500 else ILLEGAL_ARGUMENT)
    body = wire.ErrorBody(error_type=error_type, message=error.message, detailed_message=error.message)
    return JSONResponse(body.to_wire(), status_code=status, headers=error.headers)


def bad(message: str, status: int = 400) -> ServiceError:
    """A DSS error answer with `status` (400: a bad argument, 404: an unknown object, 409: a wrong state)."""
    return ServiceError(message, status=status)


def unknown(message: str) -> ServiceError:
    return ServiceError(message, status=404)
