"""A fresh batch's messages as outbox documents, composed from what the batch shares.

What prepare_message does for one message (resolve the template, build the context, render,
build the Message, then Beanie encodes it) is done here once per batch where it can be: the
templates are resolved and the context's project and campaign part built once, and each
message is a copy of a Message dumped once per channel with its own fields set, so the hot
loop neither validates nor encodes a model. The documents have the shape Beanie stores.
"""

from dataclasses import dataclass, field
from typing import Any

from beanie.odm.utils.dump import get_dict

from delivery.outbox import DEFAULT_TEMPLATE, Links, check_carried_by
from delivery.rendering import (
    CompiledTemplate,
    ContextPrefix,
    context_prefix,
    message_context,
    render,
    render_for,
    resolve_template,
)
from domain import links
from domain.campaigns import Campaign
from domain.codes import Code
from domain.customers import Customer, contact_address
from domain.messages import Message, MessageChannel
from domain.projects import Project

# Variables read from the database for each customer (customer_extras).
PER_CUSTOMER_READS = frozenset({"referral_link", "loyalty"})
# The channel whose unsubscribe link a shared context carries; others replace it.
CONTEXT_CHANNEL = MessageChannel.EMAIL


def message_base(*, project_id: str, channel: MessageChannel, **fields: Any) -> dict[str, Any]:
    """A message document as Beanie would store it, with its defaults (the same timestamps for
    every copy); the fields that differ from message to message are set on each copy."""
    message = Message(project_id=project_id, channel=channel, **fields)
    return get_dict(message, to_db=True, keep_nulls=Message.get_settings().keep_nulls)


@dataclass
class MessageComposer:
    """Renders and builds a batch's messages; made once per batch."""

    links: Links
    project: Project
    campaign: Campaign
    job_id: str
    prefix: ContextPrefix
    templates: dict[tuple[str, MessageChannel], CompiledTemplate] = field(default_factory=dict)
    bases: dict[MessageChannel, dict[str, Any]] = field(default_factory=dict)
    # The last customer's context (by customer and code), built with CONTEXT_CHANNEL's link.
    last_context: tuple[tuple[str, str], dict[str, Any]] | None = None

    @classmethod
    def for_batch(
        cls, *, links_for: Links, project: Project, campaign: Campaign, job_id: str
    ) -> "MessageComposer":
        prefix = context_prefix(
            base_url=links_for.base_url,
            secret_key=links_for.secret_key,
            project=project,
            campaign=campaign,
        )
        return cls(
            links=links_for, project=project, campaign=campaign, job_id=job_id, prefix=prefix
        )

    async def _template(self, ref: str, channel: MessageChannel) -> CompiledTemplate:
        # A stored template is read once per batch, not once per message.
        template = self.templates.get((ref, channel))
        if template is None:
            template = await resolve_template(
                project_id=self.project.key, template_ref=ref, channel=channel
            )
            self.templates[(ref, channel)] = template
        return template

    def _customer_context(self, customer: Customer, code: Code) -> dict[str, Any]:
        """The customer's context for their first channel, kept for their other channels."""
        key = (customer.key, code.code)
        if self.last_context is None or self.last_context[0] != key:
            context = message_context(
                prefix=self.prefix,
                channel=CONTEXT_CHANNEL,
                customer=customer,
                code=code,
                campaign=self.campaign,
            )
            self.last_context = (key, context)
        return self.last_context[1]

    def _unsubscribe_url(self, customer: Customer, channel: MessageChannel) -> str:
        return links.unsubscribe_url(
            self.links.base_url, self.links.secret_key, self.project.key, customer.key, channel
        )

    def _base(self, channel: MessageChannel) -> dict[str, Any]:
        base = self.bases.get(channel)
        if base is None:
            base = message_base(project_id=self.project.key, channel=channel, job_id=self.job_id)
            self.bases[channel] = base
        return base

    async def compose(
        self,
        *,
        customer: Customer,
        channel: MessageChannel,
        template_ref: str | None,
        code: Code,
        idempotency_key: str,
    ) -> dict[str, Any]:
        """The document prepare_message's Message would be stored as, for a live customer
        with an address for `channel` and a code of the batch's campaign published to them."""
        check_carried_by(code, customer)
        ref = template_ref or DEFAULT_TEMPLATE
        template = await self._template(ref, channel)
        if code.campaign_id != self.campaign.key or template.uses & PER_CUSTOMER_READS:
            # What the batch does not share, or a read for the customer: the general way.
            campaign = self.campaign if code.campaign_id == self.campaign.key else None
            rendered = await render_for(
                template=template,
                prefix=self.prefix,
                customer=customer,
                code=code,
                campaign=campaign,
            )
            unsubscribe = ""
        else:
            context = self._customer_context(customer, code)
            if channel != CONTEXT_CHANNEL:
                context = {
                    **context,
                    "unsubscribe_url": links.unsubscribe_url(
                        self.prefix.base_url,
                        self.prefix.secret_key,
                        self.prefix.project_id,
                        customer.key,
                        channel,
                    ),
                }
            rendered = render(template=template, context=context)
            # The message's link is the context's unless the base URL ends with a slash.
            unsubscribe = (
                context["unsubscribe_url"] if self.links.base_url == self.prefix.base_url else ""
            )
        payload: dict[str, Any] = {}
        if channel == MessageChannel.EMAIL:
            payload["unsubscribe_url"] = unsubscribe or self._unsubscribe_url(customer, channel)
        document = dict(self._base(channel))
        document.update(
            customer_id=customer.key,
            to=contact_address(customer, channel),
            template_id=ref,
            code=code.code,
            campaign_id=code.campaign_id,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            payload=payload,
            idempotency_key=idempotency_key,
        )
        return document
