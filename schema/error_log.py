"""How GraphQL errors reach the log: a refusal is one line, a bug keeps its traceback."""

import logging

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from domain.errors import DomainError

log = logging.getLogger("engage.graphql")


def is_unexpected(error: GraphQLError) -> bool:
    """A bug: an exception raised while resolving a field (it has a path) that is neither a
    GraphQL error nor a DomainError. Syntax, validation, variable and permission errors are
    the caller's."""
    original = error.original_error
    return (
        original is not None
        and error.path is not None
        and not isinstance(original, GraphQLError | DomainError)
    )


def error_code(error: GraphQLError) -> str:
    if isinstance(error.original_error, DomainError):
        return error.original_error.code
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_REQUEST"


def log_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    refusals: list[str] = []
    for error in errors:
        if is_unexpected(error):
            StrawberryLogger.error(error, execution_context)
            continue
        where = ".".join(str(part) for part in error.path or []) or "-"
        refusals.append(f"{error_code(error)} at {where}")
    if refusals:
        log.warning(
            "refused graphql %s from %s: %s",
            _operation(execution_context),
            _caller(execution_context),
            "; ".join(refusals),
        )


def _operation(execution_context: ExecutionContext | None) -> str:
    if execution_context is None:
        return "-"
    try:
        kind = execution_context.operation_type.value
    except RuntimeError:
        kind = "operation"
    return f"{kind} {execution_context.operation_name or '(anonymous)'}"


def _caller(execution_context: ExecutionContext | None) -> str:
    context = getattr(execution_context, "context", None)
    caller = getattr(context, "caller", None)
    return str(caller.log_name) if caller is not None else "unknown caller"
