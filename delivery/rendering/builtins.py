"""The built-in templates, read from the configured template files."""

from functools import cache

from delivery.rendering.compile import CompiledTemplate, compile_template
from domain.errors import NotFound
from domain.messages import MessageChannel
from domain.templates import (
    BUILTIN_PREFIX,
    TEMPLATE_CHANNELS,
)
from templates import MissingTemplateFile, TemplateFiles

BUILTIN_NAMES = (
    "coupon",
    "welcome",
    "referral_invitation",
    "referral_reward",
    "points",
    "reactivation",
)


# Where built-ins are read from: the installed package, or ENGAGE_TEMPLATES_DIR's files over
# them; the process's settings choose once at start (use_template_files).
_template_files = TemplateFiles()


def use_template_files(*, files: TemplateFiles) -> None:
    global _template_files
    _template_files = files
    builtin_template.cache_clear()


# The built-in emails share one frame (brand header, footer with the unsubscribe link); each
# file holds only its own content, put in the frame before compiling.
EMAIL_LAYOUT = "email/layout.html"
LAYOUT_BODY = "<!-- body -->\n"


def _builtin_email_html(name: str) -> str:
    layout = _template_files.read_text(EMAIL_LAYOUT)
    if LAYOUT_BODY not in layout:
        raise MissingTemplateFile(f"{EMAIL_LAYOUT} has no {LAYOUT_BODY.strip()} placeholder")
    return layout.replace(LAYOUT_BODY, _template_files.read_text(f"email/{name}.html"), 1)


@cache
def builtin_template(*, name: str, channel: MessageChannel) -> CompiledTemplate:
    """Raises NOT_FOUND for a name that is not a built-in, and MissingTemplateFile when one of
    its files is missing: a message is never sent with an empty body."""
    if name not in BUILTIN_NAMES or channel not in TEMPLATE_CHANNELS:
        raise NotFound("template", "templateId")
    ref = BUILTIN_PREFIX + name
    if channel == MessageChannel.SMS:
        text = _template_files.read_text(f"sms/{name}.txt")
        return compile_template(ref=ref, name=name, channel=channel, text=text, builtin=True)
    return compile_template(
        ref=ref,
        name=name,
        channel=channel,
        subject=_template_files.read_text(f"email/{name}.subject.txt").strip(),
        html=_builtin_email_html(name),
        text=_template_files.read_text(f"email/{name}.txt"),
        builtin=True,
    )


def check_builtin_templates() -> None:
    """Compiles every built-in on every channel (called at start): raises MissingTemplateFile
    for a missing or empty file, DomainError for one that does not compile."""
    for channel in TEMPLATE_CHANNELS:
        for template in builtin_templates(channel=channel):
            parts = {"text": template.text}
            if channel == MessageChannel.EMAIL:
                parts |= {"subject": template.subject, "html": template.html}
            for part, compiled in parts.items():
                if compiled is None:
                    raise MissingTemplateFile(
                        f"built-in {template.name} {channel.value} {part} is empty"
                    )


def builtin_templates(*, channel: MessageChannel) -> list[CompiledTemplate]:
    return [builtin_template(name=name, channel=channel) for name in BUILTIN_NAMES]
