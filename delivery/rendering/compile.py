"""Compiling a template's sources into a CompiledTemplate, checked statically."""

from dataclasses import dataclass

from jinja2 import Template, TemplateError, TemplateSyntaxError

from delivery.rendering.errors import RenderingError
from delivery.rendering.sandbox import HTML_ENV, TEXT_ENV, static_problems
from domain.errors import DomainError, Problem
from domain.messages import MessageChannel

# Templates using any of these cannot be rendered without a code.
CODE_VARIABLES = frozenset({"code", "offer", "wallet"})


@dataclass(frozen=True)
class CompiledTemplate:
    ref: str
    name: str
    channel: MessageChannel
    builtin: bool
    version: int
    # The sources, as stored (for listing), and their compiled forms (None when empty).
    subject_source: str
    html_source: str
    text_source: str
    subject: Template | None
    html: Template | None
    text: Template | None
    # The top-level variables the template reads: decides what is loaded for it.
    uses: frozenset[str]

    @property
    def needs_code(self) -> bool:
        return bool(self.uses & CODE_VARIABLES)


def _compile_field(
    source: str, field: str, html: bool, problems: list[Problem], used: set[str]
) -> Template | None:
    if not source:
        return None
    environment = HTML_ENV if html else TEXT_ENV
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as error:
        problems.append(
            Problem(RenderingError.TEMPLATE_SYNTAX, f"line {error.lineno}: {error.message}", field)
        )
        return None
    found, names = static_problems(tree=tree, field=field)
    problems.extend(found)
    used |= names
    if found:
        return None
    try:
        return environment.from_string(tree)
    except TemplateError as error:
        problems.append(Problem(RenderingError.TEMPLATE_SYNTAX, str(error), field))
        return None


def compile_template(
    *,
    ref: str,
    name: str,
    channel: MessageChannel,
    subject: str = "",
    html: str = "",
    text: str = "",
    version: int = 0,
    builtin: bool = False,
) -> CompiledTemplate:
    """Parses and checks statically; raises DomainError listing every problem found."""
    problems: list[Problem] = []
    used: set[str] = set()
    is_email = channel == MessageChannel.EMAIL
    compiled = CompiledTemplate(
        ref=ref,
        name=name,
        channel=channel,
        builtin=builtin,
        version=version,
        subject_source=subject if is_email else "",
        html_source=html if is_email else "",
        text_source=text,
        subject=_compile_field(subject, "subject", False, problems, used) if is_email else None,
        html=_compile_field(html, "html", True, problems, used) if is_email else None,
        text=_compile_field(text, "text", False, problems, used),
        uses=frozenset(used),
    )
    if problems:
        raise DomainError.of(problems)
    return compiled
