"""Codes: stored normalized (upper-case, no spaces or dashes), looked up the same way."""

import asyncio
import contextlib
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import segno
from beanie.odm.utils.dump import get_dict
from bson import ObjectId
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from domain import experiments, webhooks
from domain.campaigns import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Discount,
    DiscountType,
    get_campaign,
)
from domain.code_errors import CodeError

# Stored below campaigns and experiments; callers keep using them from here.
from domain.code_models import Code as Code
from domain.code_models import CodeAssignment as CodeAssignment
from domain.code_models import CodeKind as CodeKind
from domain.code_models import CodeStatus as CodeStatus
from domain.code_models import normalize_code as normalize_code
from domain.codegen import SPACE_SHARE, check_code_space, code_space
from domain.codegen import new_code as random_code
from domain.common import Money, minor_unit_digits, utc_now
from domain.customers import Customer, get_customer
from domain.errors import CommonError, DomainError, NotFound

# Longer input cannot be a code; refusing it early keeps lookups cheap.
MAX_CODE_LENGTH = 64
GENERATION_ATTEMPTS = 10
# A publish that claimed a slot and then vanished (crash) is taken over after this long.
CLAIM_LEASE = timedelta(seconds=10)
CLAIM_POLL_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2)


async def find_code(project_id: str, raw: str) -> Code | None:
    normalized = normalize_code(raw)
    if not normalized or len(normalized) > MAX_CODE_LENGTH:
        return None
    return await Code.find_one({"project_id": project_id, "code": normalized})


async def find_public_code(raw: str) -> Code | None:
    """A code looked up without its project; a code present in several projects is not guessed."""
    normalized = normalize_code(raw)
    if not normalized or len(normalized) > MAX_CODE_LENGTH:
        return None
    found = await Code.find({"code": normalized}).limit(2).to_list()
    return found[0] if len(found) == 1 else None


def uses_left(code: Code, campaign: Campaign) -> int | None:
    """None when the campaign does not limit uses per code."""
    if campaign.limits.per_code is None:
        return None
    return max(0, campaign.limits.per_code - code.redeemed_count)


def code_status(code: Code, campaign: Campaign, now: datetime) -> CodeStatus:
    """A used-up code says so first: that is what its holder needs to know."""
    left = uses_left(code, campaign)
    if left is not None and left <= 0:
        return CodeStatus.REDEEMED
    if campaign.status == CampaignStatus.ENDED:
        return CodeStatus.EXPIRED
    if campaign.ends_at is not None and now >= campaign.ends_at:
        return CodeStatus.EXPIRED
    if campaign.status == CampaignStatus.PAUSED:
        return CodeStatus.PAUSED
    if campaign.starts_at is not None and now < campaign.starts_at:
        return CodeStatus.NOT_STARTED
    return CodeStatus.ACTIVE


def coupon_url(base_url: str, code: Code) -> str:
    return f"{base_url.rstrip('/')}/c/{quote(code.code, safe='')}"


def qr_svg(text: str) -> str:
    """An inline SVG (no XML declaration, no fixed size: it scales with its container)."""
    return str(segno.make(text, error="m").svg_inline(omitsize=True, title="QR code"))


async def _standalone_code(campaign: Campaign) -> Code:
    assert campaign.standalone_code is not None
    normalized = normalize_code(campaign.standalone_code)
    found = await Code.find_one({"project_id": campaign.project_id, "code": normalized})
    if found is None:
        # Campaign creation stores it; an older campaign without one gets it on first publish.
        with contextlib.suppress(DuplicateKeyError):
            await Code(
                project_id=campaign.project_id,
                code=normalized,
                display=campaign.standalone_code,
                campaign_id=campaign.key,
                kind=CodeKind.STANDALONE,
            ).insert()
        found = await Code.find_one({"project_id": campaign.project_id, "code": normalized})
    if found is None or found.campaign_id != campaign.key:
        raise DomainError(
            CodeError.STANDALONE_CODE_TAKEN,
            "the campaign's standalone code belongs to another campaign",
            "campaignId",
        )
    return found


def check_gives_codes(campaign: Campaign) -> None:
    """Refuses to make or hand out codes for a campaign that is not a discount or has ended."""
    if campaign.kind != CampaignKind.DISCOUNT:
        raise DomainError(
            CommonError.CAMPAIGN_NOT_DISCOUNT, "only discount campaigns have codes", "campaignId"
        )
    if campaign.status == CampaignStatus.ENDED or (
        campaign.ends_at is not None and utc_now() >= campaign.ends_at
    ):
        raise DomainError(CommonError.CAMPAIGN_ENDED, "the campaign has ended", "campaignId")


# Above this the limit cannot be stored as a 64-bit integer, and no campaign gets near it.
_RESERVATION_CEILING = 2**62


async def reserve_codes(
    campaign: Campaign, count: int, also_set: dict[str, Any] | None = None
) -> None:
    """Reserves `count` more codes for the campaign, or raises CODE_SPACE_TOO_SMALL when they
    would fill more than 1% of its code space (counting every earlier reservation)."""
    check_code_space(campaign.codes, campaign.codes_reserved, count)
    most = min(code_space(campaign.codes) // SPACE_SHARE, _RESERVATION_CEILING)
    reserved = await Campaign.get_pymongo_collection().update_one(
        {
            "_id": campaign.id,
            "project_id": campaign.project_id,
            "codes_reserved": {"$lte": most - count},
        },
        {"$inc": {"codes_reserved": count}, **({"$set": also_set} if also_set else {})},
    )
    if reserved.modified_count == 0:
        # Another request reserved in between: explain with the figures as they are now.
        current = await Campaign.get_pymongo_collection().find_one(
            {"_id": campaign.id}, {"codes_reserved": 1}
        )
        check_code_space(campaign.codes, int((current or {}).get("codes_reserved", most)), count)
        raise DomainError(
            CodeError.CODE_SPACE_TOO_SMALL,
            "the campaign's codes are too short for more codes",
            "count",
        )


async def _take_free_code(
    campaign: Campaign, customer_id: str, tags: dict[str, str] | None = None
) -> Code:
    """One atomic update hands out a pooled code; an empty pool makes a new code instead.
    `tags` (an experiment and variant) are written in that same update or insert."""
    now = utc_now()
    tags = tags or {}
    # Which pooled code the claim takes is known only after it: the claim records that its
    # event is owed (see _announce).
    pending = await _owes_event(campaign.project_id)
    raw = await Code.get_pymongo_collection().find_one_and_update(
        {"pool": campaign.key, "project_id": campaign.project_id, "assigned": False},
        {
            "$set": {
                "assigned": True,
                "pool": "",
                "customer_id": customer_id,
                "published_at": now,
                **tags,
                **pending,
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if raw is not None:
        return await _published(Code.model_validate(raw))
    await reserve_codes(campaign, 1)
    for _ in range(GENERATION_ATTEMPTS):
        display = random_code(campaign.codes)
        code = Code(
            project_id=campaign.project_id,
            code=normalize_code(display),
            display=display,
            campaign_id=campaign.key,
            customer_id=customer_id,
            assigned=True,
            published_at=now,
            **tags,
            **pending,
        )
        try:
            await code.insert()
        except DuplicateKeyError:
            continue
        await Campaign.get_pymongo_collection().update_one(
            {"_id": campaign.id, "project_id": campaign.project_id}, {"$inc": {"codes_count": 1}}
        )
        return await _published(code)
    raise DomainError(
        CommonError.CODE_SPACE_EXHAUSTED,
        "no unused code could be generated: make the campaign's codes longer",
        "campaignId",
    )


async def _owes_event(project_id: str) -> dict[str, bool]:
    """The field a publishing write sets while a webhook listens to code.published: a process
    dying before the event is stored leaves it to emit_pending_published. Nothing (and no
    database call) while none listens."""
    if await webhooks.listens(project_id=project_id, event_type=webhooks.CODE_PUBLISHED):
        return {webhooks.PENDING_FIELD: True}
    return {}


async def _published(code: Code) -> Code:
    await _announce([code])
    return code


async def _announce(codes: list[Code]) -> None:
    """code.published, once per code: the code is handed to a customer only where the write
    also sets webhook_pending (_owes_event), cleared here once the events are stored."""
    for code in codes:
        await _emit_published(code)
    await webhooks.clear_pending(
        Code.get_pymongo_collection(), [code.id for code in codes if code.webhook_pending]
    )


async def _emit_published(code: Code) -> None:
    await webhooks.emit(
        project_id=code.project_id,
        event_type=webhooks.CODE_PUBLISHED,
        object_key=f"code:{code.id}",
        data=webhooks.objects.code(code),
        dedupe_key=f"code.published:{code.id}",
    )


async def emit_pending_published(*, now: datetime | None = None) -> int:
    """Emits the code.published events of codes whose publisher died before storing them."""
    return await webhooks.emit_pending(
        collection=Code.get_pymongo_collection(),
        changed_at="published_at",
        emit_row=lambda row: _emit_published(Code.model_validate(row)),
        now=now,
    )


async def issue_fresh_code(campaign: Campaign, customer_id: str) -> Code:
    """Gives the customer a new code of the campaign each call, whatever codes_per_customer
    says (a loyalty reward, say); a standalone campaign's code is the same for everyone."""
    check_gives_codes(campaign)
    if campaign.standalone_code:
        return await _standalone_code(campaign)
    return await _take_free_code(campaign, customer_id)


async def customer_codes(project_id: str, customer_id: str, limit: int = 100) -> list[Code]:
    """The codes assigned to the customer across campaigns, newest first."""
    return (
        await Code.find({"project_id": project_id, "customer_id": customer_id})
        .sort("-published_at", "-_id")
        .limit(limit)
        .to_list()
    )


async def _assign_claimed(
    campaign: Campaign, customer_id: str, slot_filter: dict[str, Any], arm: experiments.Arm | None
) -> Code:
    """Fills a claimed slot; if that fails, the slot is given back so the limit stays exact."""
    try:
        if arm is not None:
            await experiments.record_assignment(arm=arm, customer_id=customer_id)
        return await _take_free_code(campaign, customer_id, arm.code_fields if arm else None)
    except BaseException:
        await CodeAssignment.get_pymongo_collection().update_one(
            slot_filter, {"$inc": {"claimed": -1}}
        )
        raise


def _preferred(codes: list[Code], campaign: Campaign) -> Code:
    """The customer's first code that can still be used, else the latest one."""
    ordered = sorted(codes, key=lambda c: (c.published_at or c.created_at, str(c.id)))
    for code in ordered:
        left = uses_left(code, campaign)
        if left is None or left > 0:
            return code
    return ordered[-1]


async def publish_code(
    project_id: str,
    campaign_id: str,
    customer_id: str,
    *,
    enroll: bool = True,
    customer: Customer | None = None,
) -> Code:
    """Gives the customer a code of the campaign; repeated calls return the same code(s).

    While an experiment runs on the campaign a new code carries the customer's variant, and a
    customer in the holdout gets none: the assignment is stored, then Holdout (HOLDOUT) is
    raised. A customer already holding a code keeps it and is not enrolled. `enroll=False`
    keeps an earned reward (a referral's) out of any experiment. `customer`, when the caller
    has just read it, saves reading it again."""
    campaign = await get_campaign(project_id, campaign_id)
    if customer is None or customer.project_id != project_id or customer.key != customer_id:
        try:
            customer = await get_customer(project_id, customer_id)
        except NotFound:
            raise NotFound("customer", "customerId") from None
    if customer.erased:
        raise DomainError(CommonError.ERASED, "this customer was erased", "customerId")
    check_gives_codes(campaign)
    if campaign.standalone_code:
        return await _standalone_code(campaign)

    customer_id = customer.key
    owner = {"project_id": project_id, "campaign_id": campaign.key, "customer_id": customer_id}
    arm = await experiments.arm_of(campaign=campaign, customer_id=customer_id) if enroll else None
    if arm is not None and arm.holdout:
        held = await Code.find(owner).to_list()
        if held:
            return _preferred(held, campaign)
        await experiments.record_assignment(arm=arm, customer_id=customer_id)
        raise experiments.Holdout()
    assignments = CodeAssignment.get_pymongo_collection()
    # A concurrent publish may create it first: the unique index keeps it one document.
    with contextlib.suppress(DuplicateKeyError):
        await assignments.update_one(
            owner,
            {
                "$setOnInsert": {
                    "claimed": 0,
                    "claim": "",
                    "claimed_at": utc_now(),
                    "created_at": utc_now(),
                }
            },
            upsert=True,
        )
    limit = max(1, campaign.codes_per_customer)
    claim = uuid.uuid4().hex
    slot = await assignments.find_one_and_update(
        {**owner, "claimed": {"$lt": limit}},
        {"$inc": {"claimed": 1}, "$set": {"claim": claim, "claimed_at": utc_now()}},
        return_document=ReturnDocument.AFTER,
    )
    if slot is not None:
        return await _assign_claimed(campaign, customer_id, {"_id": slot["_id"]}, arm)
    return await _await_claimed_codes(campaign, owner, arm)


async def publish_codes_to_many(
    *, campaign: Campaign, customers: list[Customer]
) -> dict[str, Code]:
    """publish_code for many live customers of a campaign that has unique codes, no running
    experiment and an empty pool, in a few round trips for all of them: the slots are claimed
    with the same conditional updates, sent together, and new codes inserted together. Returns
    the codes it gave, by customer id; a customer left out (their slots were full, or a
    concurrent publish claimed at the same moment) is for publish_code, one by one, which finds
    or finishes what they hold. Raises the DomainErrors publish_code raises for the campaign."""
    check_gives_codes(campaign)
    if campaign.standalone_code or not customers:
        return {}
    if await experiments.running_experiment(
        project_id=campaign.project_id, campaign_id=campaign.key
    ):
        return {}
    codes = Code.get_pymongo_collection()
    if await codes.find_one(
        {"pool": campaign.key, "project_id": campaign.project_id, "assigned": False}, {"_id": 1}
    ):
        return {}
    keys = [customer.key for customer in customers if not customer.erased]
    scope = {"project_id": campaign.project_id, "campaign_id": campaign.key}
    assignments = CodeAssignment.get_pymongo_collection()
    now = utc_now()
    limit = max(1, campaign.codes_per_customer)
    claim = uuid.uuid4().hex
    try:
        # Each slot claimed with the limit in the filter, its document made by the same write
        # when the customer has none. A customer whose slots are full matches nothing, and the
        # unique index refuses the document the upsert would add: that error is the refusal.
        await assignments.bulk_write(
            [
                UpdateOne(
                    {**scope, "customer_id": key, "claimed": {"$lt": limit}},
                    {
                        "$inc": {"claimed": 1},
                        "$set": {"claim": claim, "claimed_at": now},
                        "$setOnInsert": {"created_at": now},
                    },
                    upsert=True,
                )
                for key in keys
            ],
            ordered=False,
        )
    except BulkWriteError as error:
        if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
            raise
    claimed = [
        str(row["customer_id"])
        for row in await assignments.find(
            {**scope, "customer_id": {"$in": keys}, "claim": claim},
            {"customer_id": 1},
            # All in the server's first reply, one more than can match: no getMore.
            batch_size=len(keys) + 1,
        ).to_list()
    ]
    if not claimed:
        return {}

    async def give_back(unfilled: list[str]) -> None:
        # As _assign_claimed gives back its slot: the limits stay exact.
        await assignments.update_many(
            {**scope, "customer_id": {"$in": unfilled}, "claim": claim}, {"$inc": {"claimed": -1}}
        )

    try:
        await reserve_codes(campaign, len(claimed))
    except DomainError:
        await give_back(claimed)
        raise
    # An unexpected error from here on leaves the claims as a crash would: a later publish
    # takes over a claim left unfilled once CLAIM_LEASE has passed.
    given, unfilled = await _insert_new_codes(
        campaign, sorted(claimed), now, await _owes_event(campaign.project_id)
    )
    await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id, "project_id": campaign.project_id},
        {"$inc": {"codes_count": len(given)}},
    )
    await _announce(list(given.values()))
    if unfilled:
        await give_back(unfilled)
        raise DomainError(
            CommonError.CODE_SPACE_EXHAUSTED,
            "no unused code could be generated: make the campaign's codes longer",
            "campaignId",
        )
    return given


async def _insert_new_codes(
    campaign: Campaign, customer_ids: list[str], now: datetime, pending: dict[str, bool]
) -> tuple[dict[str, Code], list[str]]:
    """A new random code for each customer, inserted together; the few that collide with an
    existing code are drawn again. Returns the codes by customer, and the customers for whom
    GENERATION_ATTEMPTS draws found no unused code."""
    given: dict[str, Code] = {}
    waiting = customer_ids
    # Every code's document is a copy of one dumped as Beanie stores a Code, with its own
    # value, owner and id: the loop neither validates nor encodes a model per code.
    constant = {
        "project_id": campaign.project_id,
        "campaign_id": campaign.key,
        "assigned": True,
        "published_at": now,
        "created_at": now,
        **pending,
    }
    base = get_dict(
        Code(code="", display="", **constant), to_db=True, keep_nulls=Code.get_settings().keep_nulls
    )
    codes = Code.get_pymongo_collection()
    for _ in range(GENERATION_ATTEMPTS):
        drawn: list[dict[str, Any]] = []
        for customer_id in waiting:
            display = random_code(campaign.codes)
            document = dict(base)
            document.update(
                _id=ObjectId(),
                code=normalize_code(display),
                display=display,
                customer_id=customer_id,
            )
            drawn.append(document)
        failed: set[int] = set()
        try:
            await codes.insert_many(drawn, ordered=False)
        except BulkWriteError as error:
            failures = error.details.get("writeErrors", [])
            if any(failure.get("code") != 11000 for failure in failures):
                raise
            failed = {int(failure["index"]) for failure in failures}
        for i, document in enumerate(drawn):
            if i not in failed:
                code = Code(
                    id=document["_id"],
                    code=document["code"],
                    display=document["display"],
                    customer_id=document["customer_id"],
                    **constant,
                )
                given[code.customer_id] = code
        waiting = [drawn[i]["customer_id"] for i in sorted(failed)]
        if not waiting:
            break
    return given, waiting


async def _await_claimed_codes(
    campaign: Campaign, owner: dict[str, Any], arm: experiments.Arm | None
) -> Code:
    """Every slot is claimed: returns a customer's code once concurrent claims have filled them."""
    assignments = CodeAssignment.get_pymongo_collection()
    attempt = 0
    while True:
        assignment = await assignments.find_one(owner)
        codes = await Code.find(owner).to_list()
        if assignment is None or len(codes) >= assignment["claimed"]:
            if codes:
                return _preferred(codes, campaign)
            raise DomainError(CodeError.NO_CODE, "no code could be published", "campaignId")
        if utc_now() - assignment["claimed_at"] > CLAIM_LEASE:
            # The claim's owner stopped before assigning a code: this call finishes its work.
            taken = await assignments.find_one_and_update(
                {**owner, "claimed": assignment["claimed"], "claim": assignment["claim"]},
                {"$set": {"claim": uuid.uuid4().hex, "claimed_at": utc_now()}},
                return_document=ReturnDocument.AFTER,
            )
            if taken is not None:
                return await _assign_claimed(
                    campaign, owner["customer_id"], {"_id": taken["_id"]}, arm
                )
        await asyncio.sleep(CLAIM_POLL_SECONDS[min(attempt, len(CLAIM_POLL_SECONDS) - 1)])
        attempt += 1


_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "ILS": "₪"}


def format_money(value: Money) -> str:
    """Human form of minor units: €5.00, ¥500, 12.500 KWD."""
    exponent = minor_unit_digits(value.currency)
    sign = "-" if value.amount < 0 else ""
    whole, fraction = divmod(abs(value.amount), 10**exponent)
    number = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(value.currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {value.currency}"


def offer_text(discount: Discount | None) -> str:
    """What the customer gets, in a few words: "15% off", "€5.00 off", "Free shipping"."""
    if discount is None:
        return ""
    if discount.type == DiscountType.PERCENT and discount.percent_off is not None:
        text = f"{discount.percent_off:g}% off"
        if discount.max_discount is not None:
            text += f" (up to {format_money(discount.max_discount)})"
        return text
    if discount.type == DiscountType.AMOUNT and discount.amount_off is not None:
        return f"{format_money(discount.amount_off)} off"
    if discount.type == DiscountType.FIXED_PRICE and discount.fixed_price is not None:
        return f"Now {format_money(discount.fixed_price)}"
    if discount.type == DiscountType.FREE_SHIPPING:
        return "Free shipping"
    return ""
