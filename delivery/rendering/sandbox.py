"""The Jinja2 sandbox templates run in, and the static checks of a parsed template."""

from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from delivery.rendering.errors import RenderingError
from delivery.rendering.variables import PLAIN_FIELDS, VARIABLES
from domain.errors import Problem

# range() in templates, and strings or lists repeated with *, stay this small.
MAX_RANGE = 1_000
MAX_REPEAT = 100_000
# Names Jinja itself provides inside loops and macros.
_JINJA_LOCALS = frozenset({"loop", "varargs", "kwargs", "caller"})


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() in a template gives at most {MAX_RANGE} numbers")
    return numbers


class _Sandbox(ImmutableSandboxedEnvironment):
    """Also refuses ** and repeating a string or list into something huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        for sequence, times in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(times, int)
                and len(sequence) * times > MAX_REPEAT
            ):
                raise SecurityError("a repeated string or list would be too long")
        return left * right

    def getattr(self, obj: Any, attribute: str) -> Any:
        # A declared field of a variable class holds plain data (a string, a number or another
        # variable class), never a method or an internal: it is read without the generic checks,
        # which cost more than the rest of a render. Anything else gets them all.
        fields = PLAIN_FIELDS.get(type(obj))
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)


def _sandbox(autoescape: bool) -> _Sandbox:
    environment = _Sandbox(
        undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True, lstrip_blocks=True
    )
    # No lipsum, cycler, joiner, namespace or dict: templates get their context and range().
    environment.globals.clear()
    environment.globals["range"] = _capped_range
    return environment


# HTML bodies are escaped; subjects, text and SMS bodies are sent as plain text, not escaped.
HTML_ENV = _sandbox(autoescape=True)
TEXT_ENV = _sandbox(autoescape=False)
GLOBALS = frozenset(HTML_ENV.globals)


def static_problems(*, tree: nodes.Template, field: str) -> tuple[list[Problem], set[str]]:
    """Unsafe constructs and unknown names, found in every branch, taken or not at check time."""
    problems: list[Problem] = []
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    for loader in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        problems.append(
            Problem(
                RenderingError.UNSAFE_TEMPLATE,
                f"line {loader.lineno}: templates cannot load others",
                field,
            )
        )
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        attribute = _constant_attribute(node)
        if attribute is not None and attribute.startswith("_"):
            problems.append(
                Problem(
                    RenderingError.UNSAFE_TEMPLATE,
                    f"line {node.lineno}: '{attribute}' cannot be used in a template",
                    field,
                )
            )
            continue
        owner = node.node
        if (
            attribute is not None
            and isinstance(owner, nodes.Name)
            and owner.ctx == "load"
            and owner.name not in assigned
        ):
            fields = VARIABLES.get(owner.name)
            if fields is not None and attribute not in fields:
                problems.append(
                    Problem(
                        RenderingError.UNKNOWN_VARIABLE,
                        f"line {node.lineno}: {owner.name} has no '{attribute}'; it has "
                        + ", ".join(sorted(fields)),
                        field,
                    )
                )
    used: set[str] = set()
    for name in tree.find_all(nodes.Name):
        assert isinstance(name, nodes.Name)
        if name.ctx != "load" or name.name in assigned or name.name in _JINJA_LOCALS:
            continue
        if name.name == "self":
            problems.append(
                Problem(
                    RenderingError.UNSAFE_TEMPLATE,
                    f"line {name.lineno}: 'self' cannot be used",
                    field,
                )
            )
        elif name.name in VARIABLES:
            used.add(name.name)
        elif name.name not in GLOBALS:
            problems.append(
                Problem(
                    RenderingError.UNKNOWN_VARIABLE,
                    f"line {name.lineno}: '{name.name}' is not a template variable; use "
                    + ", ".join(sorted(VARIABLES)),
                    field,
                )
            )
    return problems, used


def _constant_attribute(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        value = node.arg.value
        return value if isinstance(value, str) else None
    return None
