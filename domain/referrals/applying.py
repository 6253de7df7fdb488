"""Applying a referral code: the referee attached once, under the cap, and welcomed."""

import asyncio
from datetime import timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from domain.campaigns import ReferralConfig, get_campaign
from domain.codes import MAX_CODE_LENGTH, normalize_code, publish_code
from domain.common import as_utc, utc_now
from domain.customers import Customer, get_customer, get_live_customer
from domain.errors import CommonError, DomainError, NotFound
from domain.referrals.errors import ReferralError
from domain.referrals.models import Referral, ReferralCode
from domain.referrals.rules import program_problem

ATTACH_ATTEMPTS = 5
# An attachment not confirmed after this long was left by a process that died.
ATTACH_LEASE = timedelta(seconds=10)
ATTACH_POLL_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2)


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


async def apply_referral_code(*, project_id: str, raw_code: str, customer_id: str) -> Referral:
    """Attaches the customer to the code's referrer and gives the welcome reward. A repeat with
    the same code returns the first referral; a refusal writes nothing."""
    normalized = normalize_code(raw_code or "")
    code = None
    if normalized and len(normalized) <= MAX_CODE_LENGTH:
        code = await ReferralCode.find_one({"project_id": project_id, "code": normalized})
    if code is None:
        raise NotFound("referral code", "code")
    campaign = await get_campaign(project_id, code.campaign_id, "code")
    problem = program_problem(campaign=campaign, now=utc_now())
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
        raise DomainError(ReferralError.SELF_REFERRAL, "a customer cannot refer themselves", "code")
    owner = {"project_id": project_id, "campaign_id": campaign.key, "referee_id": referee.key}
    for _ in range(ATTACH_ATTEMPTS):
        earlier = await _settled_referral(owner)
        if earlier is not None:
            return await _repeat(earlier, code, campaign.referral)
        if referee.metrics.orders_count > 0:
            raise DomainError(
                ReferralError.ALREADY_ORDERED,
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
    raise DomainError(
        CommonError.BUSY, "the customer is being referred by another request; retry", "code"
    )


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
            ReferralError.REFERRER_CAP_REACHED,
            "this referrer has brought as many customers as allowed",
            "code",
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
            ReferralError.ALREADY_REFERRED,
            "this customer was already referred in this program",
            "code",
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
