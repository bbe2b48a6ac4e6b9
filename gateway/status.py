"""The one place where errors become gRPC status codes."""

from __future__ import annotations

import grpc

from modgate.errors import BadInputError, ModgateError


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """gRPC status code and details for an error raised while serving a request."""
    if isinstance(exc, BadInputError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, ModgateError):
        return grpc.StatusCode.INTERNAL, str(exc)
    return grpc.StatusCode.INTERNAL, "internal error"
