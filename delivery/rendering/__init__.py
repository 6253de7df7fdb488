"""Renders email and SMS from built-in and stored templates in a Jinja2 sandbox."""

from delivery.rendering.builtins import (
    BUILTIN_NAMES,
    builtin_template,
    builtin_templates,
    check_builtin_templates,
    use_template_files,
)
from delivery.rendering.checks import (
    ContentPreview,
    builtin_sms_info,
    check_template,
    preview_content,
    template_check,
)
from delivery.rendering.compile import CompiledTemplate, compile_template
from delivery.rendering.context import (
    ContextPrefix,
    context_prefix,
    customer_extras,
    message_context,
)
from delivery.rendering.html_text import html_to_text
from delivery.rendering.render import Rendered, render, render_for, render_message
from delivery.rendering.resolve import resolve_template
from delivery.rendering.samples import sample_context, sample_unsubscribe_url
from delivery.sms_text import SmsInfo

__all__ = [
    "BUILTIN_NAMES",
    "CompiledTemplate",
    "ContentPreview",
    "ContextPrefix",
    "Rendered",
    "SmsInfo",
    "builtin_sms_info",
    "builtin_template",
    "builtin_templates",
    "check_builtin_templates",
    "check_template",
    "compile_template",
    "context_prefix",
    "customer_extras",
    "html_to_text",
    "message_context",
    "preview_content",
    "render",
    "render_for",
    "render_message",
    "resolve_template",
    "sample_context",
    "sample_unsubscribe_url",
    "template_check",
    "use_template_files",
]
