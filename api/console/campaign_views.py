"""What the campaign pages share: status in words, figures as text, the campaign of a request,
and the status changes (pause, resume, end) with what each one does."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request

from api.console.web import Visit, format_money
from domain import campaigns
from domain.campaigns import Campaign, CampaignStatus, CodeMode
from domain.common import Money

CHANNEL_NAMES = {"EMAIL": "Email", "SMS": "SMS", "ONLINE": "Online", "POS": "Till (POS)"}


@dataclass(frozen=True)
class StatusChange:
    """Pause, resume or end: what the confirmation page asks and what it does."""

    action: str
    status: CampaignStatus
    verb: str
    consequence: str
    allowed_from: tuple[CampaignStatus, ...]


STATUS_CHANGES = {
    change.action: change
    for change in (
        StatusChange(
            "pause",
            CampaignStatus.PAUSED,
            "Pause",
            "Its codes are refused at checkout (as PAUSED) until you resume it.",
            (CampaignStatus.ACTIVE,),
        ),
        StatusChange(
            "resume",
            CampaignStatus.ACTIVE,
            "Resume",
            "Its codes work again, within the campaign's dates and limits.",
            (CampaignStatus.PAUSED,),
        ),
        StatusChange(
            "end",
            CampaignStatus.ENDED,
            "End",
            "This is final: no code of the campaign works after this, and it cannot be resumed.",
            (CampaignStatus.ACTIVE, CampaignStatus.PAUSED),
        ),
    )
}


def relative_time(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        amount, unit = max(1, round(seconds)), "second"
    elif seconds < 3600:
        amount, unit = max(1, round(seconds / 60)), "minute"
    elif seconds < 2 * 86400:
        amount, unit = round(seconds / 3600), "hour"
    else:
        amount, unit = round(seconds / 86400), "day"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def status_of(campaign: Campaign, now: datetime) -> tuple[str, str, str]:
    """(word, hint, css class): the status as stored, and what it means right now."""
    if campaign.status == CampaignStatus.ENDED:
        return "Ended", "", "ended"
    if campaign.status == CampaignStatus.PAUSED:
        return "Paused", "", "paused"
    if campaign.ends_at is not None and campaign.ends_at <= now:
        return "Expired", f"ended {relative_time(now - campaign.ends_at)} ago", "ended"
    if campaign.starts_at is not None and now < campaign.starts_at:
        return "Scheduled", f"starts in {relative_time(campaign.starts_at - now)}", "scheduled"
    if campaign.ends_at is not None:
        return "Active", f"ends in {relative_time(campaign.ends_at - now)}", "active"
    return "Active", "", "active"


def moneys(values: list[Money]) -> str:
    """One figure per currency: amounts in different currencies are never added up."""
    return ", ".join(format_money(value) for value in values) if values else "—"


def limit_text(value: int | None) -> str:
    return "∞" if value is None else f"{value:,}"


def code_shape(campaign: Campaign) -> str:
    """How the campaign's codes look, in words."""
    codes = campaign.codes
    if campaign.standalone_code:
        return f"One shared code: {campaign.standalone_code}"
    if codes.mode == CodeMode.NUMERIC:
        text = f"{codes.length} digits" + (f" starting {codes.prefix}" if codes.prefix else "")
        return text + (" with a Luhn check digit" if codes.luhn else "")
    if codes.pattern:
        return f"Pattern {codes.prefix}{codes.pattern}{codes.suffix} (# is a random character)"
    parts = [codes.prefix, f"{codes.length} random characters", codes.suffix]
    return " + ".join(part for part in parts if part)


def rules_text(campaign: Campaign) -> str:
    """The campaign's eligibility rules in a line."""
    rules = campaign.rules
    parts = ["first orders only"] if rules.first_order_only else []
    if rules.segment_ids:
        parts.append(f"customers in {len(rules.segment_ids)} chosen segment(s)")
    if rules.customer_tags:
        parts.append("customers tagged " + ", ".join(rules.customer_tags))
    if rules.attributes:
        parts.append(
            "customers with " + ", ".join(f"{k} = {v}" for k, v in rules.attributes.items())
        )
    if rules.skus:
        parts.append("orders with SKU " + ", ".join(rules.skus))
    if rules.categories:
        parts.append("orders with items in " + ", ".join(rules.categories))
    return "; ".join(parts) if parts else "every customer and order"


async def campaign_of(visit: Visit, request: Request) -> Campaign:
    return await campaigns.get_campaign(
        visit.project_id, str(request.path_params["campaign_id"]), "id"
    )


def count_of(text: str) -> int | None:
    cleaned = text.replace(",", "").replace("_", "").replace(" ", "")
    return int(cleaned) if cleaned.isdigit() else None
