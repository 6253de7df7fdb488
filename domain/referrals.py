"""Referral programs: one link per referrer, referees attached once, the referrer rewarded once
after the referee's first qualifying order, and held long enough for a refund to cancel it."""

import asyncio
import contextlib
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from beanie import Document
from bson import ObjectId
from pydantic import Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain import events, loyalty
from domain.campaigns import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    ReferralConfig,
    get_campaign,
)
from domain.codegen import new_code as random_code
from domain.codes import MAX_CODE_LENGTH, Code, normalize_code, publish_code
from domain.common import as_utc, utc_now
from domain.customers import Customer, get_customer, get_live_customer
from domain.errors import DomainError, NotFound
from domain.pagination import Page, paginate

GENERATION_ATTEMPTS = 10
ATTACH_ATTEMPTS = 5
# An attachment not confirmed after this long was left by a process that died.
ATTACH_LEASE = timedelta(seconds=10)
ATTACH_POLL_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2)
MAX_USER_AGENT = 300
# A reward still being given after this long was left by a process that died.
REWARD_LEASE = timedelta(seconds=30)


class ReferralStatus(StrEnum):
    PENDING = "PENDING"
    QUALIFIED = "QUALIFIED"
    REWARDED = "REWARDED"
    CANCELLED = "CANCELLED"


class ReferralCode(Document):
    """A referrer's code in one program; its counters move only by atomic $inc."""

    project_id: str
    campaign_id: str
    referrer_id: str
    # normalize_code form: the lookup key.
    code: str
    clicks: int = 0
    # Referees attached with this code: the counter the per-referrer cap is enforced on.
    referrals_count: int = 0
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "referral_codes"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("referrer_id", 1)],
                unique=True,
                name="project_campaign_referrer_unique",
            ),
            IndexModel([("project_id", 1), ("code", 1)], unique=True, name="project_code_unique"),
            # The public link knows the code only, not its project.
            IndexModel([("code", 1)], name="code_any_project"),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class ReferralClick(Document):
    """One visit of a referral link. The IP is kept only as a keyed hash."""

    project_id: str
    campaign_id: str
    code_id: str
    ip_hash: str
    user_agent: str = ""
    clicked_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "referral_clicks"
        indexes = [IndexModel([("project_id", 1), ("code_id", 1), ("clicked_at", 1)])]


class Referral(Document):
    project_id: str
    campaign_id: str
    code: str
    code_id: str
    referrer_id: str
    referee_id: str
    status: ReferralStatus = ReferralStatus.PENDING
    # False while the request attaching the referee is still checking the cap and welcoming.
    confirmed: bool = True
    welcome_code_id: str = ""
    # "" until the referee's qualifying order: the embedded server cannot match null reliably.
    qualifying_order_id: str = ""
    qualified_at: datetime | None = None
    release_at: datetime | None = None
    rewarded_at: datetime | None = None
    cancelled_at: datetime | None = None
    # True from REWARDED until the reward itself is given, so a crash in between is retried.
    reward_pending: bool = False
    reward_code_id: str = ""
    # Why the reward could not be given (its campaign ended, say); "" when it was.
    reward_error: str = ""
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "referrals"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("referee_id", 1)],
                unique=True,
                name="project_campaign_referee_unique",
            ),
            IndexModel([("project_id", 1), ("referee_id", 1), ("status", 1)]),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("referrer_id", 1)]),
            IndexModel([("status", 1), ("release_at", 1)]),
            IndexModel([("reward_pending", 1), ("rewarded_at", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


def _program_problem(campaign: Campaign, now: datetime) -> DomainError | None:
    if campaign.kind != CampaignKind.REFERRAL or campaign.referral is None:
        return DomainError("NOT_REFERRAL", "this campaign is not a referral program", "campaignId")
    ended = campaign.ends_at is not None and now >= as_utc(campaign.ends_at)
    early = campaign.starts_at is not None and now < as_utc(campaign.starts_at)
    if campaign.status != CampaignStatus.ACTIVE or ended or early:
        return DomainError("PROGRAM_NOT_ACTIVE", "the referral program is not active", "campaignId")
    return None


def referral_url(base_url: str, code: ReferralCode) -> str:
    return f"{base_url.rstrip('/')}/r/{quote(code.code, safe='')}"


async def referral_link(project_id: str, campaign_id: str, customer_id: str) -> ReferralCode:
    """The customer's code in the program, made on first call. The unique index on
    (project, program, referrer) decides between concurrent first calls."""
    campaign = await get_campaign(project_id, campaign_id)
    problem = _program_problem(campaign, utc_now())
    if problem is not None:
        raise problem
    referrer_id = (await get_live_customer(project_id, customer_id)).key
    owner = {"project_id": project_id, "campaign_id": campaign.key, "referrer_id": referrer_id}
    existing = await ReferralCode.find_one(owner)
    if existing is not None:
        return existing
    for _ in range(GENERATION_ATTEMPTS):
        code = normalize_code(random_code(campaign.codes))
        # Best effort: a referral code that is also a coupon code would confuse a till.
        if await Code.find_one({"project_id": project_id, "code": code}) is not None:
            continue
        made = ReferralCode(**owner, code=code)
        try:
            await made.insert()
        except DuplicateKeyError:
            # Either a concurrent call made the referrer's code, or the random code is taken.
            existing = await ReferralCode.find_one(owner)
            if existing is not None:
                return existing
            continue
        return made
    raise DomainError(
        "CODE_SPACE_EXHAUSTED",
        "no unused code could be made: make the campaign's codes longer",
        "campaignId",
    )


async def my_referral_link(
    project_id: str, customer_id: str, campaign_id: str | None = None
) -> ReferralCode | None:
    """The customer's code in the given program, or in the project's newest running one; None
    when the project runs no referral program."""
    if campaign_id is None:
        running = [
            campaign
            for campaign in await Campaign.find(
                {
                    "project_id": project_id,
                    "kind": CampaignKind.REFERRAL.value,
                    "status": CampaignStatus.ACTIVE.value,
                }
            )
            .sort("-created_at")
            .to_list()
            if _program_problem(campaign, utc_now()) is None
        ]
        if not running:
            return None
        campaign_id = running[0].key
    return await referral_link(project_id, campaign_id, customer_id)


async def find_public_referral_code(raw: str) -> ReferralCode | None:
    """A code looked up without its project; a code present in several projects is not guessed."""
    normalized = normalize_code(raw)
    if not normalized or len(normalized) > MAX_CODE_LENGTH:
        return None
    found = await ReferralCode.find({"code": normalized}).limit(2).to_list()
    return found[0] if len(found) == 1 else None


def hash_ip(ip: str, secret_key: str) -> str:
    """Keyed with the service's secret, so a stored hash cannot be reversed by trying IPs."""
    return hmac.new(secret_key.encode(), ip.encode(), hashlib.sha256).hexdigest()


async def record_click(code: ReferralCode, ip: str, user_agent: str, secret_key: str) -> str:
    """Records the visit and returns the program's landing URL, with `ref=<code>` while the
    program runs."""
    campaign = await get_campaign(code.project_id, code.campaign_id)
    await ReferralClick(
        project_id=code.project_id,
        campaign_id=code.campaign_id,
        code_id=code.key,
        ip_hash=hash_ip(ip, secret_key),
        user_agent=user_agent[:MAX_USER_AGENT],
    ).insert()
    await ReferralCode.get_pymongo_collection().update_one(
        {"_id": code.id}, {"$inc": {"clicks": 1}}
    )
    landing = campaign.referral.landing_url if campaign.referral else ""
    if campaign.status != CampaignStatus.ACTIVE or (
        campaign.ends_at is not None and utc_now() >= campaign.ends_at
    ):
        # The program no longer refers anyone: the visitor lands without a code to apply.
        return landing_with_ref(landing, None)
    return landing_with_ref(landing, code.code)


def landing_with_ref(landing_url: str, code: str | None) -> str:
    """The landing URL with its own query kept and `ref` set to the code (removed for None)."""
    parts = urlsplit(landing_url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ref"]
    ref = [] if code is None else [("ref", code)]
    return urlunsplit(parts._replace(query=urlencode([*kept, *ref])))


def _same_person(referee: Customer, referrer: Customer) -> bool:
    if referee.key == referrer.key:
        return True
    # Emails and phones are stored normalized (lower-case, E.164).
    if referee.email and referee.email == referrer.email:
        return True
    return bool(referee.phone and referee.phone == referrer.phone)


async def _give_back_slot(code: ReferralCode) -> None:
    await ReferralCode.get_pymongo_collection().update_one(
        {"_id": code.id, "referrals_count": {"$gt": 0}}, {"$inc": {"referrals_count": -1}}
    )


async def apply_referral_code(project_id: str, raw_code: str, customer_id: str) -> Referral:
    """Attaches the customer to the code's referrer and gives the welcome reward. A repeat with
    the same code returns the first referral; a refusal writes nothing."""
    normalized = normalize_code(raw_code or "")
    code = None
    if normalized and len(normalized) <= MAX_CODE_LENGTH:
        code = await ReferralCode.find_one({"project_id": project_id, "code": normalized})
    if code is None:
        raise NotFound("referral code", "code")
    campaign = await get_campaign(project_id, code.campaign_id, "code")
    problem = _program_problem(campaign, utc_now())
    if problem is not None:
        raise DomainError(problem.code, problem.problems[0].message, "code")
    assert campaign.referral is not None
    referee = await get_live_customer(project_id, customer_id)
    try:
        referrer = await get_customer(project_id, code.referrer_id)
    except NotFound:
        raise NotFound("referral code", "code") from None
    if referrer.erased:
        raise NotFound("referral code", "code")
    if _same_person(referee, referrer):
        raise DomainError("SELF_REFERRAL", "a customer cannot refer themselves", "code")
    owner = {"project_id": project_id, "campaign_id": campaign.key, "referee_id": referee.key}
    for _ in range(ATTACH_ATTEMPTS):
        earlier = await _settled_referral(owner)
        if earlier is not None:
            return await _repeat(earlier, code, campaign.referral)
        if referee.metrics.orders_count > 0:
            raise DomainError(
                "ALREADY_ORDERED",
                "referral codes are for customers before their first order",
                "code",
            )
        referral = Referral(
            **owner,
            code=code.code,
            code_id=code.key,
            referrer_id=referrer.key,
            confirmed=False,
        )
        try:
            await referral.insert()
        except DuplicateKeyError:
            # Another attempt for this referee is under way: its outcome decides this one.
            continue
        return await _attach(referral, code, campaign.referral)
    raise DomainError("BUSY", "the customer is being referred by another request; retry", "code")


async def _settled_referral(owner: dict[str, Any]) -> Referral | None:
    """The referee's referral once it is confirmed, or None once there is none. An attempt that
    stopped before confirming (a crash) is removed after ATTACH_LEASE."""
    attempt = 0
    while True:
        found = await Referral.find_one(owner)
        if found is None or found.confirmed:
            return found
        if utc_now() - as_utc(found.created_at) > ATTACH_LEASE:
            await Referral.get_pymongo_collection().delete_one(
                {"_id": found.id, "confirmed": False}
            )
            return None
        await asyncio.sleep(ATTACH_POLL_SECONDS[min(attempt, len(ATTACH_POLL_SECONDS) - 1)])
        attempt += 1


async def _attach(referral: Referral, code: ReferralCode, config: ReferralConfig) -> Referral:
    """Takes a slot of the referrer's cap and gives the welcome reward, then confirms the
    referral; a refusal on the way removes it and gives the slot back."""
    cap = config.max_referrals_per_referrer
    slot = await ReferralCode.get_pymongo_collection().update_one(
        {"_id": code.id, **({"referrals_count": {"$lt": cap}} if cap is not None else {})},
        {"$inc": {"referrals_count": 1}},
    )
    if slot.modified_count == 0:
        await Referral.get_pymongo_collection().delete_one({"_id": referral.id})
        raise DomainError(
            "REFERRER_CAP_REACHED", "this referrer has brought as many customers as allowed", "code"
        )
    try:
        await _welcome(referral, config)
    except BaseException:
        # The welcome reward cannot be given: the request is refused and leaves nothing.
        await Referral.get_pymongo_collection().delete_one({"_id": referral.id})
        await _give_back_slot(code)
        raise
    await Referral.get_pymongo_collection().update_one(
        {"_id": referral.id}, {"$set": {"confirmed": True}}
    )
    referral.confirmed = True
    return referral


async def _repeat(earlier: Referral, code: ReferralCode, config: ReferralConfig) -> Referral:
    if earlier.code_id != code.key:
        raise DomainError(
            "ALREADY_REFERRED", "this customer was already referred in this program", "code"
        )
    # A retry finishes a welcome reward that a crash may have left ungiven.
    await _welcome(earlier, config)
    return earlier


async def _welcome(referral: Referral, config: ReferralConfig) -> None:
    if not config.welcome_campaign_id or referral.welcome_code_id:
        return
    # A promised reward is never held out by an experiment on its campaign.
    welcome = await publish_code(
        referral.project_id, config.welcome_campaign_id, referral.referee_id, enroll=False
    )
    await Referral.get_pymongo_collection().update_one(
        {"_id": referral.id, "welcome_code_id": ""}, {"$set": {"welcome_code_id": str(welcome.id)}}
    )
    referral.welcome_code_id = str(welcome.id)


def _qualifies(config: ReferralConfig, amount: Any) -> bool:
    minimum = config.min_order
    if minimum is None:
        return True
    return bool(amount.currency == minimum.currency and amount.amount >= minimum.amount)


async def on_order_recorded(order: Any) -> None:
    """The referee's first qualifying order moves the referral PENDING -> QUALIFIED, once: the
    conditional update on the status lets exactly one of several concurrent orders through."""
    if not order.customer_id:
        return
    pending = await Referral.find(
        {
            "project_id": order.project_id,
            "referee_id": order.customer_id,
            "status": ReferralStatus.PENDING.value,
            "confirmed": True,
        }
    ).to_list()
    for referral in pending:
        campaign = await Campaign.find_one(
            {"_id": ObjectId(referral.campaign_id), "project_id": order.project_id}
        )
        if campaign is None or campaign.referral is None:
            continue
        if not _qualifies(campaign.referral, order.amount):
            continue
        now = utc_now()
        release_at = now + timedelta(days=campaign.referral.hold_days)
        moved = await Referral.get_pymongo_collection().update_one(
            {"_id": referral.id, "status": ReferralStatus.PENDING.value},
            {
                "$set": {
                    "status": ReferralStatus.QUALIFIED.value,
                    "qualifying_order_id": order.order_id,
                    "qualified_at": now,
                    "release_at": release_at,
                }
            },
        )
        if moved.modified_count == 1:
            await events.emit(
                order.project_id,
                referral.referrer_id,
                events.REFERRAL_QUALIFIED,
                {
                    "referralId": referral.key,
                    "campaignId": referral.campaign_id,
                    "refereeId": referral.referee_id,
                    "orderId": order.order_id,
                },
                at=now,
                dedupe_key=f"referral.qualified:{referral.key}",
            )
        if moved.modified_count == 1 and campaign.referral.hold_days == 0:
            await _grant(referral.key, campaign, now)


async def on_order_reversed(order: Any) -> None:
    """A refund while the reward is held cancels it; a reward already given stays given."""
    if not order.customer_id:
        return
    await Referral.get_pymongo_collection().update_many(
        {
            "project_id": order.project_id,
            "referee_id": order.customer_id,
            "qualifying_order_id": order.order_id,
            "status": ReferralStatus.QUALIFIED.value,
        },
        {"$set": {"status": ReferralStatus.CANCELLED.value, "cancelled_at": utc_now()}},
    )


async def _grant(referral_id: str, campaign: Campaign, now: datetime) -> bool:
    """QUALIFIED -> REWARDED once, by a conditional update, then the reward itself."""
    moved = await Referral.get_pymongo_collection().update_one(
        {"_id": ObjectId(referral_id), "status": ReferralStatus.QUALIFIED.value},
        {
            "$set": {
                "status": ReferralStatus.REWARDED.value,
                "rewarded_at": now,
                "reward_pending": True,
            }
        },
    )
    if moved.modified_count == 0:
        return False
    referral = await Referral.get(ObjectId(referral_id))
    if referral is not None:
        await _give_reward(referral, campaign)
    return True


async def _give_reward(referral: Referral, campaign: Campaign) -> None:
    """Idempotent: the code is published once (remembered on the referral) and points are
    earned under a ledger key unique to the referral."""
    config = campaign.referral
    reward = config.referrer_reward if config else None
    error = ""
    try:
        if reward is not None and reward.discount_campaign_id and not referral.reward_code_id:
            code = await publish_code(
                referral.project_id, reward.discount_campaign_id, referral.referrer_id, enroll=False
            )
            await Referral.get_pymongo_collection().update_one(
                {"_id": referral.id}, {"$set": {"reward_code_id": str(code.id)}}
            )
        elif reward is not None and reward.loyalty_campaign_id and reward.points > 0:
            await _earn_points(referral, reward.loyalty_campaign_id, reward.points)
    except DomainError as failure:
        # Retrying cannot help (the reward's campaign ended, say): kept for the admin to see.
        error = failure.problems[0].message
    await Referral.get_pymongo_collection().update_one(
        {"_id": referral.id}, {"$set": {"reward_pending": False, "reward_error": error}}
    )


async def _earn_points(referral: Referral, loyalty_campaign_id: str, points: int) -> None:
    await loyalty.grant_points(
        project_id=referral.project_id,
        campaign_id=loyalty_campaign_id,
        customer_id=referral.referrer_id,
        points=points,
        key=f"referral:{referral.key}",
        reason=f"referral of customer {referral.referee_id}",
    )


async def release_due_rewards(now: datetime | None = None, project_id: str | None = None) -> int:
    """Grants every held reward whose hold has passed and finishes rewards a crash left; returns
    how many it granted. Safe to run anywhere, any time: each reward is given once."""
    moment = as_utc(now) if now is not None else utc_now()
    scope: dict[str, Any] = {"project_id": project_id} if project_id else {}
    granted = 0
    due = await Referral.find(
        {**scope, "status": ReferralStatus.QUALIFIED.value, "release_at": {"$lte": moment}}
    ).to_list()
    campaigns: dict[str, Campaign | None] = {}
    for referral in due:
        campaign = await _cached_campaign(referral, campaigns)
        if campaign is not None and await _grant(referral.key, campaign, moment):
            granted += 1
    stalled = await Referral.find(
        {**scope, "reward_pending": True, "rewarded_at": {"$lt": utc_now() - REWARD_LEASE}}
    ).to_list()
    for referral in stalled:
        campaign = await _cached_campaign(referral, campaigns)
        if campaign is not None:
            await _give_reward(referral, campaign)
    return granted


async def _cached_campaign(referral: Referral, seen: dict[str, Campaign | None]) -> Campaign | None:
    if referral.campaign_id not in seen:
        seen[referral.campaign_id] = await Campaign.find_one(
            {"_id": ObjectId(referral.campaign_id), "project_id": referral.project_id}
        )
    return seen[referral.campaign_id]


async def list_referrals(
    project_id: str, campaign_id: str, referrer_id: str | None, first: int, after: str | None
) -> Page[Referral]:
    campaign = await get_campaign(project_id, campaign_id)
    query: dict[str, Any] = {
        "project_id": project_id,
        "campaign_id": campaign.key,
        "confirmed": True,
    }
    if referrer_id:
        query["referrer_id"] = referrer_id
    return await paginate(Referral, query, first, after)


@dataclass
class ReferralTotals:
    clicks: int = 0
    referrals: int = 0
    pending: int = 0
    qualified: int = 0
    rewarded: int = 0
    cancelled: int = 0


async def referral_totals(
    project_id: str, campaign_id: str, referrer_id: str | None = None
) -> ReferralTotals:
    campaign = await get_campaign(project_id, campaign_id)
    scope: dict[str, Any] = {"project_id": project_id, "campaign_id": campaign.key}
    if referrer_id:
        scope["referrer_id"] = referrer_id
    totals = ReferralTotals()
    by_status = Referral.get_pymongo_collection().aggregate(
        [{"$match": {**scope, "confirmed": True}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
    )
    async for row in await by_status:
        count = int(row["n"])
        totals.referrals += count
        with contextlib.suppress(ValueError):
            name = ReferralStatus(row["_id"]).value.lower()
            setattr(totals, name, getattr(totals, name) + count)
    clicks = ReferralCode.get_pymongo_collection().aggregate(
        [{"$match": scope}, {"$group": {"_id": None, "n": {"$sum": "$clicks"}}}]
    )
    async for row in await clicks:
        totals.clicks += int(row["n"])
    return totals
