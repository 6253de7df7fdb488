"""Delivery counts of a campaign's messages, and the redemptions each channel brought."""

from dataclasses import dataclass
from typing import Any

from domain.campaigns import get_campaign
from domain.messages import Message, MessageChannel, MessageStatus
from domain.redemptions import Redemption, RedemptionStatus

CUSTOMER_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)


@dataclass(frozen=True)
class ChannelCounts:
    channel: MessageChannel
    queued: int
    sent: int
    delivered: int
    undelivered: int
    failed: int
    suppressed: int
    redeemed: int


async def _grouped(collection: Any, match: dict[str, Any], field: str) -> dict[str, int]:
    # Grouped on one plain field: the embedded server cannot group on built keys.
    rows = await (
        await collection.aggregate(
            [{"$match": match}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
        )
    ).to_list()
    return {str(row["_id"]): int(row["n"]) for row in rows}


async def delivery_counts(project_id: str, campaign_id: str) -> list[ChannelCounts]:
    campaign = await get_campaign(project_id, campaign_id)
    redeemed = await _grouped(
        Redemption.get_pymongo_collection(),
        {
            "project_id": project_id,
            "campaign_id": campaign.key,
            "status": RedemptionStatus.SUCCEEDED.value,
            "message_channel": {"$in": [c.value for c in CUSTOMER_CHANNELS]},
        },
        "message_channel",
    )
    counts = []
    for channel in CUSTOMER_CHANNELS:
        by_status = await _grouped(
            Message.get_pymongo_collection(),
            {"project_id": project_id, "campaign_id": campaign.key, "channel": channel.value},
            "status",
        )

        def n(*statuses: MessageStatus, by_status: dict[str, int] = by_status) -> int:
            return sum(by_status.get(status.value, 0) for status in statuses)

        counts.append(
            ChannelCounts(
                channel=channel,
                # Waiting or being sent right now: both are still to leave.
                queued=n(MessageStatus.QUEUED, MessageStatus.SENDING),
                # Everything that left, whatever the provider said later.
                sent=n(MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED),
                delivered=n(MessageStatus.DELIVERED),
                undelivered=n(MessageStatus.UNDELIVERED),
                failed=n(MessageStatus.FAILED),
                suppressed=n(MessageStatus.SUPPRESSED),
                redeemed=redeemed.get(channel.value, 0),
            )
        )
    return counts
