"""Who may call what: ADMIN keys everything, POS keys the till operations, customers `me`."""

from typing import Any

from strawberry.permission import BasePermission

from domain.callers import CallerKind
from schema.context import Info


class _Role(BasePermission):
    allowed: frozenset[CallerKind] = frozenset()
    # Who may call, as the schema's descriptions say it (schema/build.py appends it).
    callers = ""
    message = "this operation is not allowed for the caller's role"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.caller.kind in self.allowed


class IsAdmin(_Role):
    allowed = frozenset({CallerKind.ADMIN})
    callers = "admin keys"


class IsStaff(_Role):
    """Admin keys and POS (till) keys."""

    allowed = frozenset({CallerKind.ADMIN, CallerKind.POS})
    callers = "admin keys and POS keys"


class IsCustomer(_Role):
    allowed = frozenset({CallerKind.CUSTOMER})
    message = "this operation needs a customer token"
    callers = "customer tokens"


class IsAdminOrCustomer(_Role):
    allowed = frozenset({CallerKind.ADMIN, CallerKind.CUSTOMER})
    callers = "admin keys and customer tokens"
