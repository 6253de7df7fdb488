"""Maps DomainError to the payload's `errors`, in one place, for every mutation."""

import functools
import typing
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from strawberry.extensions import SchemaExtension

from domain.errors import DomainError
from domain.rate_limits import RateLimited
from schema.types import user_errors

P = ParamSpec("P")
R = TypeVar("R")


def payload(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A DomainError raised by the resolver becomes `PayloadType(errors=[...])`."""
    payload_type: Any = typing.get_type_hints(resolver)["return"]

    @functools.wraps(resolver)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await resolver(*args, **kwargs)
        except DomainError as error:
            return typing.cast(R, payload_type(errors=user_errors(error)))

    return wrapper


class DomainErrorCodes(SchemaExtension):
    """A DomainError raised outside a payload (a bad cursor or page size in a query) reaches the
    caller as a GraphQL error carrying its code and field, like the payloads' UserError (and
    RATE_LIMITED its retryAfter seconds)."""

    def on_operation(self) -> Iterator[None]:
        yield
        for error in getattr(self.execution_context.result, "errors", None) or []:
            original = error.original_error
            if isinstance(original, DomainError):
                problem = original.problems[0]
                error.extensions = {"code": problem.code, "field": problem.field}
                if isinstance(original, RateLimited):
                    error.extensions["retryAfter"] = original.retry_after
