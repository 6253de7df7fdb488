"""A customer as the console shows them: found by email, phone, sourceId or name, and
everything about them in one read (consents, coupons, loyalty, orders, referrals, messages,
segments)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId

from domain import codes, loyalty, segments
from domain.campaigns import Campaign
from domain.common import object_ids, utc_now
from domain.customers import Customer, get_customer, normalize_email, normalize_phone
from domain.errors import DomainError
from domain.loyalty import LedgerEntry, LoyaltyCard
from domain.messages import Message, MessageChannel
from domain.orders import Order
from domain.referrals import Referral

# Names are matched by reading customers newest first: the embedded server has no text index
# or $regex, so the scan is bounded and the page says when it stopped short.
NAME_SCAN_LIMIT = 20_000
SECTION_ROWS = 20


@dataclass
class CustomerSearch:
    customers: list[Customer]
    # How the query was read: "email", "phone", "sourceId", "name" or "" (no query: newest).
    matched_by: str
    # Name searches only: False when NAME_SCAN_LIMIT customers were read without finishing.
    complete: bool = True
    # The `before` cursor of the next (older) page, when there is one.
    next_before: str = ""


def _page(found: list[Customer], limit: int) -> tuple[list[Customer], str]:
    if len(found) > limit:
        return found[:limit], found[limit - 1].key
    return found, ""


async def search_customers(
    *, project_id: str, query: str, limit: int = 50, before: str = ""
) -> CustomerSearch:
    """An exact email, phone (E.164) or sourceId finds that customer; other text is looked
    for in names (every word, any case). Without a query: the newest customers, `limit` per
    page, older pages by `before` (a customer id). Erased customers are left out."""
    text = query.strip()
    scope: dict[str, Any] = {"project_id": project_id, "erased": False}
    if not text:
        page_scope = dict(scope)
        if before and ObjectId.is_valid(before):
            page_scope["_id"] = {"$lt": ObjectId(before)}
        rows = await Customer.find(page_scope).sort("-_id").limit(limit + 1).to_list()
        shown, next_before = _page(rows, limit)
        return CustomerSearch(customers=shown, matched_by="", next_before=next_before)
    if "@" in text:
        try:
            email = normalize_email(text)
        except DomainError:
            email = text.lower()
        rows = await Customer.find({**scope, "email": email}).limit(limit).to_list()
        return CustomerSearch(customers=rows, matched_by="email")
    if text.startswith("+") or text.replace(" ", "").replace("-", "").isdigit():
        try:
            phone = normalize_phone(text)
        except DomainError:
            phone = ""
        if phone:
            rows = await Customer.find({**scope, "phone": phone}).limit(limit).to_list()
            if rows:
                return CustomerSearch(customers=rows, matched_by="phone")
    by_source = await Customer.find({**scope, "source_id": text}).limit(limit).to_list()
    if by_source:
        return CustomerSearch(customers=by_source, matched_by="sourceId")
    return await _by_name(scope=scope, text=text, limit=limit)


async def _by_name(*, scope: dict[str, Any], text: str, limit: int) -> CustomerSearch:
    words = text.casefold().split()
    found: list[Customer] = []
    read = 0
    cursor = Customer.get_pymongo_collection().find(scope, {"name": 1}).sort("_id", -1)
    async for row in cursor:
        read += 1
        name = str(row.get("name") or "").casefold()
        if all(word in name for word in words):
            found.append(row["_id"])
            if len(found) >= limit:
                break
        if read >= NAME_SCAN_LIMIT:
            break
    complete = read < NAME_SCAN_LIMIT or len(found) >= limit
    by_id = {c.id: c for c in await Customer.find({"_id": {"$in": found}, **scope}).to_list()}
    rows = [by_id[oid] for oid in found if oid in by_id]
    return CustomerSearch(customers=rows, matched_by="name", complete=complete)


@dataclass
class CardView:
    card: LoyaltyCard
    program: Campaign | None
    ledger: list[LedgerEntry]


@dataclass
class SegmentView:
    id: str
    name: str
    kind: str


@dataclass
class CustomerProfile:
    customer: Customer
    campaigns: dict[str, Campaign]
    coupons: list[codes.Code]
    coupon_statuses: dict[str, str]
    cards: list[CardView]
    orders: list[Order]
    referrals_made: list[Referral]
    referred_by: list[Referral]
    messages: list[Message]
    segments: list[SegmentView]
    customer_names: dict[str, str] = field(default_factory=dict)

    def campaign_name(self, campaign_id: str) -> str:
        campaign = self.campaigns.get(campaign_id)
        return campaign.name if campaign else "(deleted campaign)"


async def _campaigns(project_id: str, ids: set[str]) -> dict[str, Campaign]:
    found = await Campaign.find(
        {"_id": {"$in": object_ids(ids)}, "project_id": project_id}
    ).to_list()
    return {campaign.key: campaign for campaign in found}


async def _segments_of(project_id: str, customer: Customer, now: datetime) -> list[SegmentView]:
    """Static segments the customer was added to, and dynamic ones their record matches now."""
    member_of = {
        row["segment_id"]
        async for row in segments.SegmentMember.get_pymongo_collection().find(
            {"project_id": project_id, "customer_id": customer.key}, {"segment_id": 1}
        )
    }
    raw = await Customer.get_pymongo_collection().find_one(
        {"_id": customer.id, "project_id": project_id}
    )
    shown = []
    for segment in await segments.Segment.find({"project_id": project_id}).sort("name").to_list():
        if segment.kind == segments.SegmentKind.STATIC:
            inside = segment.key in member_of
        else:
            query = segments.match_query(segment=segment, now=now)
            inside = (
                raw is not None and not customer.erased and segments.matches(query=query, doc=raw)
            )
        if inside:
            shown.append(SegmentView(segment.key, segment.name, segment.kind.value))
    return shown


async def customer_profile(
    *, project_id: str, customer_id: str, rows: int = SECTION_ROWS
) -> CustomerProfile:
    """The customer and the newest `rows` of each section (NotFound outside the project)."""
    customer = await get_customer(project_id, customer_id)
    now = utc_now()
    key = customer.key
    coupons = await codes.customer_codes(project_id, key, limit=rows)
    cards = await loyalty.customer_cards(project_id=project_id, customer_id=key)
    orders = (
        await Order.find({"project_id": project_id, "customer_id": key})
        .sort("-created_at")
        .limit(rows)
        .to_list()
    )
    made = (
        await Referral.find({"project_id": project_id, "referrer_id": key, "confirmed": True})
        .sort("-created_at")
        .limit(rows)
        .to_list()
    )
    referred = (
        await Referral.find({"project_id": project_id, "referee_id": key, "confirmed": True})
        .sort("-created_at")
        .limit(rows)
        .to_list()
    )
    messages = (
        await Message.find(
            {
                "project_id": project_id,
                "customer_id": key,
                "channel": {"$in": [MessageChannel.EMAIL.value, MessageChannel.SMS.value]},
            }
        )
        .sort("-created_at")
        .limit(rows)
        .to_list()
    )
    campaign_ids = (
        {code.campaign_id for code in coupons}
        | {card.campaign_id for card in cards}
        | {r.campaign_id for r in made + referred}
        | {m.campaign_id for m in messages if m.campaign_id}
    )
    campaigns = await _campaigns(project_id, campaign_ids)
    statuses = {
        code.code: codes.code_status(code, campaigns[code.campaign_id], now).value
        for code in coupons
        if code.campaign_id in campaigns
    }
    card_views = []
    for card in cards:
        ledger = (
            await LedgerEntry.find({"project_id": project_id, "card_id": str(card.id)})
            .sort("-created_at")
            .limit(rows)
            .to_list()
            if card.id is not None
            else []
        )
        card_views.append(CardView(card, campaigns.get(card.campaign_id), ledger))
    others = {r.referee_id for r in made} | {r.referrer_id for r in referred}
    names = {
        c.key: c.name or c.email or c.source_id or c.key
        for c in await Customer.find(
            {"_id": {"$in": object_ids(others)}, "project_id": project_id}
        ).to_list()
    }
    return CustomerProfile(
        customer=customer,
        campaigns=campaigns,
        coupons=coupons,
        coupon_statuses=statuses,
        cards=card_views,
        orders=orders,
        referrals_made=made,
        referred_by=referred,
        messages=messages,
        segments=await _segments_of(project_id, customer, now),
        customer_names=names,
    )
