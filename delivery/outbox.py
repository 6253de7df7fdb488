"""Queueing messages: checked, rendered and written to the outbox; the worker sends them."""

from dataclasses import dataclass
from typing import Any

from beanie import PydanticObjectId
from beanie.odm.utils.dump import get_dict
from pymongo.errors import BulkWriteError, DuplicateKeyError

from delivery.errors import DeliveryError
from delivery.rendering import render_message
from domain import consent, experiments, links, webhooks
from domain.campaigns import Campaign, get_campaign
from domain.codes import Code, CodeKind, find_code, publish_code
from domain.customers import Channel, Customer, contact_address, get_live_customer
from domain.errors import CommonError, DomainError, NotFound
from domain.messages import (
    NEVER,
    Message,
    MessageChannel,
    MessageStatus,
    check_idempotency_key,
    prepare_new_status,
)
from domain.projects import Project, get_project

CUSTOMER_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)
DEFAULT_TEMPLATE = "builtin:coupon"


@dataclass(frozen=True)
class Links:
    """What the service needs to build links in a message."""

    base_url: str
    secret_key: str


def _without_consent(customer: Customer, channel: MessageChannel) -> str:
    granted = customer.consents.email if channel == MessageChannel.EMAIL else customer.consents.sms
    return "" if granted else f"the customer has not consented to {channel.value.lower()}"


def _opted_out(address: str) -> str:
    return f"{address} has opted out"


async def consent_refusal(customer: Customer, channel: MessageChannel, address: str) -> str:
    """Why the customer may not be sent this, or "" when they may."""
    refusal = _without_consent(customer, channel)
    if refusal:
        return refusal
    if await consent.is_suppressed(customer.project_id, channel, address):
        return _opted_out(address)
    return ""


async def _code_for(project_id: str, raw: str, customer: Customer) -> Code:
    code = await find_code(project_id, raw)
    if code is None:
        raise NotFound("code", "code")
    check_carried_by(code, customer)
    return code


def check_carried_by(code: Code, customer: Customer) -> None:
    """A message carries a code published to its customer (or one shared by everyone)."""
    if code.kind != CodeKind.STANDALONE and code.customer_id != customer.key:
        if code.customer_id:
            raise DomainError(
                DeliveryError.CODE_OF_ANOTHER_CUSTOMER,
                "this code belongs to another customer",
                "code",
            )
        raise DomainError(
            DeliveryError.CODE_NOT_PUBLISHED,
            "publish the code to this customer first (publishCode), so its use is tracked",
            "code",
        )


async def _existing(project_id: str, key: str) -> Message | None:
    return await Message.find_one({"project_id": project_id, "idempotency_key": key})


async def queue_message(
    links_for: Links,
    project_id: str,
    customer_id: str,
    channel: MessageChannel,
    template_ref: str | None = None,
    raw_code: str | None = None,
    idempotency_key: str | None = None,
    *,
    project: Project | None = None,
    campaign: Campaign | None = None,
    job_id: str = "",
    customer: Customer | None = None,
    code: Code | None = None,
    probably_new: bool = False,
) -> Message:
    """Writes one message to the outbox, rendered; a customer without consent gets a SUPPRESSED
    record instead, so every decision stays traceable. A repeated idempotency key returns the
    first message.

    A caller that has just read the customer, or the code `raw_code` names, passes them to save
    reading them again. `probably_new` skips looking the idempotency key up before rendering:
    the unique index still turns a repeat into the first message."""
    if channel not in CUSTOMER_CHANNELS:
        raise DomainError(CommonError.INVALID_CHANNEL, "messages go by EMAIL or SMS", "channel")
    key = check_idempotency_key(idempotency_key)
    if key is not None and not probably_new:
        earlier = await _existing(project_id, key)
        if earlier is not None:
            return earlier
    message, customer = await prepare_message(
        links_for,
        project_id,
        customer_id,
        channel,
        template_ref,
        raw_code,
        key,
        project=project,
        campaign=campaign,
        job_id=job_id,
        customer=customer,
        code=code,
    )
    refusal = await consent_refusal(customer, channel, message.to)
    event = await _suppress(message, refusal) if refusal else None
    try:
        await message.insert()
    except DuplicateKeyError:
        assert key is not None
        earlier = await _existing(project_id, key)
        if earlier is None:
            raise
        return earlier
    await webhooks.confirm_event(event)
    return message


async def prepare_message(
    links_for: Links,
    project_id: str,
    customer_id: str,
    channel: MessageChannel,
    template_ref: str | None = None,
    raw_code: str | None = None,
    idempotency_key: str | None = None,
    *,
    project: Project | None = None,
    campaign: Campaign | None = None,
    job_id: str = "",
    customer: Customer | None = None,
    code: Code | None = None,
) -> tuple[Message, Customer]:
    """The message queue_message would write, checked and rendered but neither consent-checked
    nor written; and its customer."""
    if channel not in CUSTOMER_CHANNELS:
        raise DomainError(CommonError.INVALID_CHANNEL, "messages go by EMAIL or SMS", "channel")
    key = check_idempotency_key(idempotency_key)
    project = project or await get_project(project_id)
    if customer is None or customer.project_id != project_id or customer.key != customer_id:
        customer = await get_live_customer(project_id, customer_id)
    elif customer.erased:
        raise DomainError(CommonError.ERASED, "this customer was erased", "customerId")
    address = contact_address(customer, channel)
    if not address:
        what = "an email address" if channel == MessageChannel.EMAIL else "a phone number"
        raise DomainError(DeliveryError.NO_ADDRESS, f"the customer has no {what}", "customerId")
    if code is not None and raw_code and code.project_id == project_id and code.code == raw_code:
        check_carried_by(code, customer)
    else:
        code = await _code_for(project_id, raw_code, customer) if raw_code else None
    if code is not None and (campaign is None or campaign.key != code.campaign_id):
        campaign = await get_campaign(project_id, code.campaign_id)
    template = template_ref or DEFAULT_TEMPLATE
    rendered = await render_message(
        base_url=links_for.base_url,
        secret_key=links_for.secret_key,
        project=project,
        template_ref=template,
        channel=channel,
        customer=customer,
        code=code,
        campaign=campaign,
    )
    payload: dict[str, Any] = {}
    if channel == MessageChannel.EMAIL:
        payload["unsubscribe_url"] = links.unsubscribe_url(
            links_for.base_url, links_for.secret_key, project_id, customer.key, channel
        )
    message = Message(
        project_id=project_id,
        channel=channel,
        customer_id=customer.key,
        to=address,
        template_id=template,
        code=code.code if code else "",
        campaign_id=campaign.key if campaign else "",
        job_id=job_id,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        payload=payload,
        idempotency_key=key,
    )
    return message, customer


async def _suppress(message: Message, refusal: str) -> webhooks.PreparedEvent | None:
    """Makes `message` a SUPPRESSED record, and writes its message.suppressed event before the
    message itself (its id is chosen here), to be confirmed once the message is inserted."""
    message.status = MessageStatus.SUPPRESSED
    message.open = False
    message.due_at = NEVER
    message.error = refusal
    message.id = PydanticObjectId()
    return await prepare_new_status(message)


# A project with at most this many opt-outs has them read whole for a batch: its addresses are
# compared without a query of their own, and normalized only for a channel that has some.
SUPPRESSIONS_READ_WHOLE = 500


async def _suppressed_among(project_id: str, documents: list[dict[str, Any]]) -> list[bool]:
    """Whether each message's address opted out of its channel, in one or two queries."""
    channels = [MessageChannel(document["channel"]) for document in documents]
    known = await consent.all_suppressed(
        project_id,
        {Channel(channel.value) for channel in channels},
        SUPPRESSIONS_READ_WHOLE,
    )
    if known is not None:
        opted_out = []
        for document, channel in zip(documents, channels, strict=True):
            addresses = known[Channel(channel.value)]
            # No opt-out on the channel: nothing to normalize the address for.
            opted_out.append(
                bool(addresses) and consent.normalize_address(channel, document["to"]) in addresses
            )
        return opted_out
    # Each address normalized once, for the suppression check.
    normalized = [
        consent.normalize_address(channel, document["to"])
        for document, channel in zip(documents, channels, strict=True)
    ]
    by_channel: dict[MessageChannel, set[str]] = {}
    for channel, address in zip(channels, normalized, strict=True):
        by_channel.setdefault(channel, set()).add(address)
    suppressed = {
        channel: await consent.suppressed_addresses(project_id, channel, addresses)
        for channel, addresses in by_channel.items()
    }
    return [
        address in suppressed[channel]
        for channel, address in zip(channels, normalized, strict=True)
    ]


async def queue_message_documents(
    project_id: str, drafts: list[tuple[dict[str, Any], Customer]]
) -> list[MessageStatus]:
    """Writes message documents composed for a batch (delivery.distribution.compose: as
    prepare_message's Messages would be stored, each with an idempotency key) as queue_message
    would, in a few round trips for all of them: one suppression query per channel, one
    unordered insert. Returns each one's status; a key already in the outbox keeps its first
    message, whose status is returned in its place."""
    for document, _ in drafts:
        if not document.get("idempotency_key"):
            raise ValueError("messages queued together each need an idempotency key")
    suppressed = await _suppressed_among(project_id, [document for document, _ in drafts])
    documents: list[dict[str, Any]] = []
    events: list[webhooks.PreparedEvent | None] = []
    for (document, customer), opted_out in zip(drafts, suppressed, strict=True):
        refusal = _without_consent(customer, MessageChannel(document["channel"]))
        if not refusal and opted_out:
            refusal = _opted_out(document["to"])
        if refusal:
            # Rare: the record goes through the model, as queue_message's does.
            message = Message(**document)
            events.append(await _suppress(message, refusal))
            document = get_dict(message, to_db=True, keep_nulls=Message.get_settings().keep_nulls)
        documents.append(document)
    if not documents:
        return []
    statuses = [MessageStatus(document["status"]) for document in documents]
    try:
        await Message.get_pymongo_collection().insert_many(documents, ordered=False)
    except BulkWriteError as error:
        failures = error.details.get("writeErrors", [])
        if any(failure.get("code") != 11000 for failure in failures):
            raise
        repeated = {documents[failure["index"]]["idempotency_key"] for failure in failures}
        earlier = {
            str(found["idempotency_key"]): MessageStatus(found["status"])
            for found in await Message.get_pymongo_collection()
            .find(
                {"project_id": project_id, "idempotency_key": {"$in": sorted(repeated)}},
                {"idempotency_key": 1, "status": 1},
            )
            .to_list()
        }
        statuses = [
            earlier.get(document["idempotency_key"], status)
            for document, status in zip(documents, statuses, strict=True)
        ]
    # A repeated message's event was stored by its first write (the event id names the change).
    for event in events:
        await webhooks.confirm_event(event)
    return statuses


async def publish_and_queue(
    links_for: Links,
    project_id: str,
    campaign_id: str,
    customer_id: str,
    channel: MessageChannel | None,
) -> tuple[Code, Message | None]:
    """publishCode with a channel: the code, and the coupon message carrying it. Asking again
    returns the same code and the same message: the coupon is not sent twice."""
    if channel is not None:
        # Checked before the code is published, so a refused request writes nothing.
        if channel not in CUSTOMER_CHANNELS:
            raise DomainError(CommonError.INVALID_CHANNEL, "messages go by EMAIL or SMS", "channel")
        customer = await get_live_customer(project_id, customer_id)
        if not contact_address(customer, channel):
            what = "an email address" if channel == MessageChannel.EMAIL else "a phone number"
            raise DomainError(DeliveryError.NO_ADDRESS, f"the customer has no {what}", "customerId")
    code = await publish_code(project_id, campaign_id, customer_id)
    if channel is None:
        return code, None
    # An experiment's variant (or the promoted one) may bring its own template for the channel.
    template = (
        await experiments.template_for_code(code=code, channel=channel.value) or DEFAULT_TEMPLATE
    )
    message = await queue_message(
        links_for,
        project_id,
        customer_id,
        channel,
        template,
        code.code,
        f"publish:{code.id}:{customer_id}:{channel.value}",
    )
    return code, message
