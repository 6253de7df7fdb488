"""Save-time checks of a template: compiled, then rendered with sample data."""

# A template that passes renders at send time for every customer: every variable has the same
# type for every customer (strings, or an int for loyalty points), and
# `customer.attributes.<name>` is the attribute as a string, "" when the customer lacks it (JSON
# for objects and lists), so no customer can be missing something the check render had.

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Template
from jinja2.exceptions import SecurityError, UndefinedError

from delivery.rendering.builtins import builtin_template
from delivery.rendering.compile import compile_template
from delivery.rendering.errors import RenderingError
from delivery.rendering.render import RENDER_ERRORS, Rendered, render_field, render_unchecked
from delivery.rendering.samples import SAMPLE_BASE_URL, sample_context, sample_unsubscribe_url
from delivery.sms_text import SmsInfo, check_sms_length, sms_info
from domain.errors import CommonError, DomainError, Problem
from domain.messages import MessageChannel
from domain.projects import Brand
from domain.templates import (
    CheckedTemplate,
    TemplateCheck,
    TemplateContent,
    validated_content,
)

# Rendered output above these sizes is refused at save time (a loop can multiply a body).
MAX_RENDERED = {"subject": 1_000, "html": 500_000, "text": 100_000}


def _check_field(
    template: Template | None, field: str, context: Mapping[str, Any], problems: list[Problem]
) -> str:
    try:
        output = render_field(template=template, context=context)
    except SecurityError as error:
        problems.append(Problem(RenderingError.UNSAFE_TEMPLATE, str(error), field))
    except UndefinedError as error:
        problems.append(Problem(RenderingError.UNKNOWN_VARIABLE, str(error), field))
    except (*RENDER_ERRORS, RecursionError) as error:
        problems.append(
            Problem(RenderingError.TEMPLATE_ERROR, f"{type(error).__name__}: {error}", field)
        )
    else:
        if len(output) > MAX_RENDERED[field]:
            problems.append(
                Problem(
                    CommonError.TOO_LARGE,
                    f"the rendered {field} has more than {MAX_RENDERED[field]} characters",
                    field,
                )
            )
        return output
    return ""


def check_template(
    *,
    content: TemplateContent,
    max_sms_segments: int,
    base_url: str = SAMPLE_BASE_URL,
    brand: Brand | None = None,
) -> CheckedTemplate:
    """Compiles and renders the content with sample data, for a customer with every attribute
    and for one with none; raises DomainError with every problem found (nothing is stored)."""
    compiled = compile_template(
        ref="check",
        name=content.name,
        channel=content.channel,
        subject=content.subject,
        html=content.html,
        text=content.text,
    )
    problems: list[Problem] = []
    outputs: dict[str, str] = {}
    for attributes in (None, "sample"):
        context = sample_context(
            channel=content.channel, base_url=base_url, brand=brand, attributes=attributes
        )
        for field, template in (
            ("subject", compiled.subject),
            ("html", compiled.html),
            ("text", compiled.text),
        ):
            field_problems: list[Problem] = []
            outputs[field] = _check_field(template, field, context, field_problems)
            problems.extend(p for p in field_problems if p not in problems)
    if problems:
        raise DomainError.of(problems)
    unsubscribe = sample_unsubscribe_url(channel=content.channel, base_url=base_url)
    if content.channel == MessageChannel.SMS:
        text = outputs["text"].strip()
        if "STOP" not in text.upper():
            raise DomainError(
                RenderingError.MISSING_OPT_OUT,
                'an SMS ends with how to opt out, such as "Reply STOP to opt out"',
                "text",
            )
        info = check_sms_length(text, max_sms_segments)
        return CheckedTemplate(
            needs_code=compiled.needs_code, sms_encoding=info.encoding, sms_segments=info.segments
        )
    if unsubscribe not in outputs["html"]:
        raise DomainError(
            RenderingError.MISSING_UNSUBSCRIBE,
            "an email's html links to {{ unsubscribe_url }} so the customer can opt out",
            "html",
        )
    return CheckedTemplate(needs_code=compiled.needs_code)


def template_check(
    *, max_sms_segments: int, base_url: str = SAMPLE_BASE_URL, brand: Brand | None = None
) -> TemplateCheck:
    """check_template with the project's settings, as domain.templates wants it."""

    def check(content: TemplateContent) -> CheckedTemplate:
        return check_template(
            content=content, max_sms_segments=max_sms_segments, base_url=base_url, brand=brand
        )

    return check


@cache
def builtin_sms_info(*, name: str) -> SmsInfo:
    """A built-in SMS's length with sample data, as listed beside the project's templates."""
    template = builtin_template(name=name, channel=MessageChannel.SMS)
    text = render_unchecked(
        template=template, context=sample_context(channel=MessageChannel.SMS)
    ).text
    return sms_info(text)


@dataclass(frozen=True)
class ContentPreview:
    """A draft rendered with sample data, and every problem saving it would report. `rendered`
    is None when the draft does not compile or render at all."""

    rendered: Rendered | None
    problems: tuple[Problem, ...]


def preview_content(
    *,
    content: TemplateContent,
    max_sms_segments: int,
    base_url: str = SAMPLE_BASE_URL,
    brand: Brand | None = None,
) -> ContentPreview:
    """What an unsaved template would carry, rendered with sample data, with the problems
    createTemplate and updateTemplate would refuse it for (the same checks, in order)."""
    problems: list[Problem] = []
    try:
        content = validated_content(content)
    except DomainError as error:
        problems.extend(error.problems)
    # Saving stops at the first failing stage; a draft shows the render's problems too, for the
    # fields the size and presence rules found nothing wrong with.
    try:
        check_template(
            content=content, max_sms_segments=max_sms_segments, base_url=base_url, brand=brand
        )
    except DomainError as error:
        reported = {problem.field for problem in problems}
        problems.extend(p for p in error.problems if p.field not in reported)
    try:
        compiled = compile_template(
            ref="preview",
            name=content.name or "preview",
            channel=content.channel,
            subject=content.subject,
            html=content.html,
            text=content.text,
        )
        rendered: Rendered | None = render_unchecked(
            template=compiled,
            context=sample_context(channel=content.channel, base_url=base_url, brand=brand),
        )
    except (DomainError, *RENDER_ERRORS, RecursionError):
        rendered = None
    return ContentPreview(rendered=rendered, problems=tuple(problems))
