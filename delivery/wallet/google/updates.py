"""The GOOGLE_UPDATE outbox channel: patches a saved pass with its code's or card's state."""

import asyncio
from dataclasses import dataclass
from typing import Any

import httplib2

from delivery import sink
from delivery.channels import (
    ChannelSender,
    PermanentSendError,
    register_sender,
)
from delivery.config import DeliverySettings
from delivery.wallet.google.objects import (
    LOYALTY_OBJECT,
    OFFER_OBJECT,
    loyalty_object_id,
    loyalty_points,
    loyalty_state,
    offer_object_id,
    offer_state,
    tier_modules,
)
from delivery.wallet.google.wallet_api import patch_object
from domain import codes
from domain.campaigns import Campaign
from domain.common import object_id
from domain.loyalty import LoyaltyCard
from domain.messages import Message, MessageChannel
from domain.projects import Project
from domain.wallet import WalletPass


@dataclass(frozen=True)
class ObjectUpdate:
    resource: str
    object_id: str
    body: dict[str, Any]


async def _campaign(project_id: str, campaign_id: str) -> Campaign | None:
    return await Campaign.find_one(
        {"_id": object_id(campaign_id, "campaign"), "project_id": project_id}
    )


async def _subject(message: Message) -> tuple[str, str]:
    """The code or the card id a GOOGLE_UPDATE message is about, from its pass."""
    pass_id = str(message.payload.get("pass_id", ""))
    if pass_id:
        wallet_pass = await WalletPass.find_one(
            {"_id": object_id(pass_id, "pass"), "project_id": message.project_id}
        )
        if wallet_pass is None:
            raise PermanentSendError("the wallet pass no longer exists")
        return wallet_pass.code, wallet_pass.card_id
    return message.code, str(message.payload.get("card_id", ""))


async def current_update(*, settings: DeliverySettings, message: Message) -> ObjectUpdate:
    """The PATCH for the pass a GOOGLE_UPDATE message is about, from the state as it is now:
    updates sent late or twice still leave the saved pass right."""
    issuer = settings.google_issuer_id
    code_text, card_id = await _subject(message)
    if card_id:
        card = await LoyaltyCard.find_one(
            {"_id": object_id(card_id, "card"), "project_id": message.project_id}
        )
        campaign = None if card is None else await _campaign(card.project_id, card.campaign_id)
        if card is None or campaign is None:
            raise PermanentSendError("the loyalty card or its program no longer exists")
        return ObjectUpdate(
            resource=LOYALTY_OBJECT,
            object_id=loyalty_object_id(issuer_id=issuer, card=card),
            body={
                "loyaltyPoints": loyalty_points(card=card),
                "state": loyalty_state(campaign=campaign),
                "textModulesData": tier_modules(card=card),
            },
        )
    code = await codes.find_code(message.project_id, code_text) if code_text else None
    campaign = None if code is None else await _campaign(code.project_id, code.campaign_id)
    if code is None or campaign is None:
        raise PermanentSendError("the code or its campaign no longer exists")
    return ObjectUpdate(
        resource=OFFER_OBJECT,
        object_id=offer_object_id(issuer_id=issuer, code=code),
        body={"state": offer_state(code=code, campaign=campaign)},
    )


async def send_google_update(
    *,
    settings: DeliverySettings,
    message: Message,
    project: Project,
    http: httplib2.Http | None = None,
) -> str:
    """`http` stands in for Google's transport in tests (googleapiclient.http.HttpMockSequence)."""
    update = await current_update(settings=settings, message=message)
    return await asyncio.to_thread(
        patch_object,
        settings=settings,
        resource=update.resource,
        wallet_object_id=update.object_id,
        body=update.body,
        http=http,
    )


async def sink_google_update(
    *, settings: DeliverySettings, message: Message, project: Project
) -> str:
    update = await current_update(settings=settings, message=message)
    return sink.write_push(
        settings.sink_dir,
        project.key,
        {
            "message_id": message.key,
            "channel": MessageChannel.GOOGLE_UPDATE.value,
            "method": "PATCH",
            "resource": update.resource,
            "object_id": update.object_id,
            "body": update.body,
        },
    )


async def _send(settings: DeliverySettings, message: Message, project: Project) -> str:
    return await send_google_update(settings=settings, message=message, project=project)


async def _sink(settings: DeliverySettings, message: Message, project: Project) -> str:
    return await sink_google_update(settings=settings, message=message, project=project)


register_sender(
    MessageChannel.GOOGLE_UPDATE,
    ChannelSender(
        configured=lambda settings: settings.google_configured,
        send=_send,
        sink=_sink,
    ),
)
