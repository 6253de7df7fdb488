"""Every argument of every root field is checked for control characters and values the
database cannot store, before the resolver runs: a mutation answers with its payload's
`errors`, a query with a GraphQL error carrying the code and field."""

from collections.abc import Awaitable, Callable
from enum import Enum
from functools import lru_cache
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from domain.errors import DomainError, Problem
from domain.storable import text_problem, value_problems
from schema.context import Info
from schema.types import UserError

# Input fields whose text legitimately spans lines (template bodies, descriptions, reasons,
# an import's inline rows).
MULTILINE_FIELDS = frozenset(
    {"text", "html", "description", "terms", "reason", "relevantText", "data"}
)
# Every mutation takes its object as `input`; its fields are named without that prefix, as the
# domain's own errors name them.
_UNNAMED_ARGUMENT = "input"


# Names are converted on every request: a few hundred distinct ones in the schema.
_camel_case = lru_cache(maxsize=4096)(to_camel_case)


def input_problems(field: StrawberryField, kwargs: dict[str, Any]) -> list[Problem]:
    names = {
        arg.python_name: arg.graphql_name or _camel_case(arg.python_name) for arg in field.arguments
    }
    stack: list[tuple[str, str, Any]] = []
    for python_name, value in kwargs.items():
        name = names.get(python_name) or _camel_case(python_name)
        stack.append(("" if name == _UNNAMED_ARGUMENT else name, name, value))
    problems: list[Problem] = []
    while stack:
        path, name, value = stack.pop()
        field_name = path or name
        if isinstance(value, str):
            multiline = name in MULTILINE_FIELDS
            if (problem := text_problem(value, field_name, multiline)) is not None:
                problems.append(problem)
        elif isinstance(value, Enum):
            continue
        elif isinstance(value, dict | int):
            problems.extend(value_problems(value, field_name))
        elif isinstance(value, list):
            stack.extend((_join(path, str(i)), name, item) for i, item in enumerate(value))
        elif (definition := get_object_definition(value)) is not None:
            for input_field in definition.fields:
                child = getattr(value, input_field.python_name, None)
                child_name = input_field.graphql_name or _camel_case(input_field.python_name)
                stack.append((_join(path, child_name), child_name, child))
    return problems


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


class CheckInputs(FieldExtension):
    """Refuses a root field's arguments before its resolver sees them."""

    def apply(self, field: StrawberryField) -> None:
        self.field = field
        return_type = field.type
        definition = get_object_definition(return_type)
        has_errors = definition is not None and any(
            f.python_name == "errors" for f in definition.fields
        )
        self.payload_type: Any = return_type if has_errors else None

    def _refusal(self, problems: list[Problem]) -> Any:
        if self.payload_type is None:
            raise DomainError.of(problems)
        errors = [UserError(code=p.code, field=p.field, message=p.message) for p in problems]
        return self.payload_type(errors=errors)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        problems = input_problems(self.field, kwargs)
        if problems:
            return self._refusal(problems)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        problems = input_problems(self.field, kwargs)
        if problems:
            return self._refusal(problems)
        return await next_(source, info, **kwargs)


def check_inputs_of(root_type: type) -> None:
    """Adds the check to every field of a root type that takes arguments, once."""
    definition = get_object_definition(root_type, strict=True)
    for field in definition.fields:
        if field.arguments and not any(isinstance(e, CheckInputs) for e in field.extensions):
            field.extensions.append(CheckInputs())
