"""Errors of the server and their HTTP form: ``{"error": {"message", "type", "param", "code"}}``.

The status, type and code come from the exception's *type* (the first class in its MRO found
in :data:`ERROR_TABLE`), never from its message text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefedit.errors import (
    ConfigError,
    DataError,
    DeltaMismatchError,
    EditError,
    ExportError,
    NotFoundError,
    PrefeditError,
    StatementParseError,
    StoreError,
    UnknownNameError,
)
from prefedit.store.store import AlreadyExistsError

log = logging.getLogger(__name__)


class AuthenticationError(PrefeditError):
    """No bearer token, or one that belongs to no one."""


class PermissionDeniedError(PrefeditError):
    """A valid token that may not do this (a user token on an admin route)."""


class ModelNotFoundError(NotFoundError):
    """The request names a model this server does not serve."""


class ContextLengthError(DataError):
    """The prompt plus the token budget does not fit the model's context."""


class BusyError(PrefeditError):
    """Too many requests are waiting for the model."""


@dataclass(frozen=True)
class ErrorKind:
    status: int
    type: str
    code: str
    param: str | None = None


# Most specific first does not matter: lookup walks the exception's MRO.
ERROR_TABLE: dict[type[BaseException], ErrorKind] = {
    AuthenticationError: ErrorKind(401, "authentication_error", "invalid_api_key"),
    PermissionDeniedError: ErrorKind(403, "permission_error", "forbidden"),
    ModelNotFoundError: ErrorKind(404, "invalid_request_error", "model_not_found", "model"),
    NotFoundError: ErrorKind(404, "not_found_error", "not_found"),
    AlreadyExistsError: ErrorKind(409, "conflict_error", "already_exists"),
    DeltaMismatchError: ErrorKind(409, "conflict_error", "base_model_mismatch"),
    StatementParseError: ErrorKind(400, "invalid_request_error", "statement_not_parsed", "statement"),
    ContextLengthError: ErrorKind(400, "invalid_request_error", "context_length_exceeded", "messages"),
    UnknownNameError: ErrorKind(400, "invalid_request_error", "unknown_name"),
    DataError: ErrorKind(400, "invalid_request_error", "invalid_value"),
    ConfigError: ErrorKind(400, "invalid_request_error", "invalid_value"),
    EditError: ErrorKind(422, "edit_error", "edit_failed"),
    ExportError: ErrorKind(422, "invalid_request_error", "export_failed"),
    BusyError: ErrorKind(503, "server_busy_error", "busy"),
    StoreError: ErrorKind(500, "store_error", "store_failed"),
    PrefeditError: ErrorKind(500, "server_error", "internal_error"),
}


def error_kind(exc: BaseException) -> ErrorKind:
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return ErrorKind(500, "server_error", "internal_error")


def error_body(message: str, kind: ErrorKind, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind.type, "param": param or kind.param, "code": kind.code}}


def error_response(exc: BaseException) -> JSONResponse:
    """The JSON response for ``exc`` (internal errors say nothing about their cause)."""
    kind = error_kind(exc)
    if isinstance(exc, PrefeditError) and kind.status < 500:
        message = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    else:
        log.error("internal error: %r", exc, exc_info=exc)
        message = "internal server error"
    headers = {"WWW-Authenticate": "Bearer"} if kind.status == 401 else None
    return JSONResponse(error_body(message, kind), status_code=kind.status, headers=headers)


def _validation(_request: Request, exc: Exception) -> JSONResponse:
    errors = getattr(exc, "errors", list)()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "path", "query")]
    message = f"{'.'.join(loc) or 'request'}: {first.get('msg', 'invalid request')}"
    if not loc and first.get("type") in ("model_attributes_type", "json_invalid", "missing"):
        message = "the request body must be a JSON object (send Content-Type: application/json)"
    kind = ErrorKind(400, "invalid_request_error", "invalid_value")
    return JSONResponse(error_body(message, kind, ".".join(loc) or None), status_code=400)


def _http(_request: Request, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status_code", 500)
    kind = ErrorKind(status, "not_found_error" if status == 404 else "invalid_request_error", "not_found" if status == 404 else "http_error")
    return JSONResponse(error_body(str(getattr(exc, "detail", "error")), kind), status_code=status)


def _prefedit(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(PrefeditError, _prefedit)
    app.add_exception_handler(Exception, _prefedit)
