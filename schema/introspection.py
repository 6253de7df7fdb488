"""Introspection in production is for admin keys: POS keys and customer tokens are refused."""

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

from domain.callers import CallerKind

_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class AdminOnlyIntrospection(ValidationRule):
    """`__schema` and `__type` are refused; `__typename` stays, clients rely on it."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in _INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    "introspection needs an admin key in production",
                    node,
                    extensions={"code": "FORBIDDEN"},
                )
            )


class IntrospectionForAdmins(SchemaExtension):
    """Adds the rule for callers other than admin keys. The rule is one class, so validation
    results stay cached, separately for the two sets of rules."""

    def on_operation(self) -> Iterator[None]:
        caller = self.execution_context.context.caller
        if caller.kind != CallerKind.ADMIN:
            rules = self.execution_context.validation_rules
            self.execution_context.validation_rules = (*rules, AdminOnlyIntrospection)
        yield
