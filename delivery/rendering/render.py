"""Rendering a compiled template into a message's subject, text and HTML."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateError

from delivery.rendering.compile import CompiledTemplate
from delivery.rendering.context import (
    ContextPrefix,
    context_prefix,
    customer_extras,
    message_context,
)
from delivery.rendering.errors import RenderingError
from delivery.rendering.html_text import html_to_text
from delivery.rendering.resolve import resolve_template
from delivery.sms_text import SmsInfo, sms_info
from domain.campaigns import Campaign, get_campaign
from domain.codes import Code
from domain.customers import Customer
from domain.errors import DomainError
from domain.messages import MessageChannel
from domain.projects import Project


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    # SMS only.
    sms: SmsInfo | None


def render_field(*, template: Template | None, context: Mapping[str, Any]) -> str:
    """One part of a template, "" when the template has none."""
    return "" if template is None else template.render(context)


def render_unchecked(*, template: CompiledTemplate, context: Mapping[str, Any]) -> Rendered:
    """Renders, letting errors through: the save-time checks report them one by one."""
    if template.channel == MessageChannel.SMS:
        text = render_field(template=template.text, context=context).strip()
        return Rendered(subject="", text=text, html="", sms=sms_info(text))
    # A subject is one header line: newlines in it would inject headers.
    subject = " ".join(render_field(template=template.subject, context=context).split())
    html = render_field(template=template.html, context=context)
    text = (
        render_field(template=template.text, context=context).strip()
        if template.text is not None
        else html_to_text(html=html)
    )
    return Rendered(subject=subject, text=text, html=html, sms=None)


RENDER_ERRORS = (TemplateError, TypeError, ValueError, ArithmeticError, LookupError)


def render(*, template: CompiledTemplate, context: Mapping[str, Any]) -> Rendered:
    """Renders a ready context (sync: a batch builds contexts from one ContextPrefix)."""
    try:
        return render_unchecked(template=template, context=context)
    except (*RENDER_ERRORS, RecursionError) as error:
        # A template that passed its check should not get here; the message fails, typed.
        raise DomainError(
            RenderingError.RENDER_FAILED,
            f"template {template.name!r} failed to render: {error}",
            "templateId",
        ) from None


async def render_for(
    *,
    template: CompiledTemplate,
    prefix: ContextPrefix,
    customer: Customer,
    code: Code | None,
    campaign: Campaign | None = None,
) -> Rendered:
    """One message of a batch: `campaign` is the code's when the prefix's is another one."""
    if template.needs_code and code is None:
        raise DomainError(
            RenderingError.CODE_REQUIRED, f"template {template.name!r} needs a code to send", "code"
        )
    if code is not None:
        if prefix.campaign_doc is not None and code.campaign_id == prefix.campaign_id:
            campaign = prefix.campaign_doc
        elif campaign is None or campaign.key != code.campaign_id:
            campaign = await get_campaign(prefix.project_id, code.campaign_id, "code")
    referral, card = await customer_extras(
        template=template, prefix=prefix, customer_id=customer.key, campaign=campaign
    )
    context = message_context(
        prefix=prefix,
        channel=template.channel,
        customer=customer,
        code=code,
        campaign=campaign,
        referral_link=referral,
        loyalty=card,
    )
    return render(template=template, context=context)


async def render_message(
    *,
    base_url: str,
    secret_key: str,
    project: Project,
    template_ref: str,
    channel: MessageChannel,
    customer: Customer,
    code: Code | None,
    campaign: Campaign | None = None,
) -> Rendered:
    """What a send of `template_ref` to `customer` carries. `campaign` spares a read when it
    is the code's campaign (or, without a code, picks the referral link or loyalty card)."""
    template = await resolve_template(
        project_id=project.key, template_ref=template_ref, channel=channel
    )
    prefix = context_prefix(
        base_url=base_url, secret_key=secret_key, project=project, campaign=campaign
    )
    return await render_for(
        template=template, prefix=prefix, customer=customer, code=code, campaign=campaign
    )
