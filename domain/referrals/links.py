"""A referrer's link: made once per program, found from its code, its clicks counted."""

from pymongo.errors import DuplicateKeyError

from domain.campaigns import Campaign, CampaignKind, CampaignStatus, get_campaign
from domain.codegen import new_code as random_code
from domain.codes import MAX_CODE_LENGTH, Code, normalize_code
from domain.common import utc_now
from domain.customers import get_live_customer
from domain.errors import CommonError, DomainError
from domain.referrals.models import ReferralClick, ReferralCode
from domain.referrals.rules import hash_ip, landing_with_ref, program_problem

GENERATION_ATTEMPTS = 10
MAX_USER_AGENT = 300


async def referral_link(*, project_id: str, campaign_id: str, customer_id: str) -> ReferralCode:
    """The customer's code in the program, made on first call. The unique index on
    (project, program, referrer) decides between concurrent first calls."""
    campaign = await get_campaign(project_id, campaign_id)
    problem = program_problem(campaign=campaign, now=utc_now())
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
        CommonError.CODE_SPACE_EXHAUSTED,
        "no unused code could be made: make the campaign's codes longer",
        "campaignId",
    )


async def my_referral_link(
    *, project_id: str, customer_id: str, campaign_id: str | None = None
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
            if program_problem(campaign=campaign, now=utc_now()) is None
        ]
        if not running:
            return None
        campaign_id = running[0].key
    return await referral_link(
        project_id=project_id, campaign_id=campaign_id, customer_id=customer_id
    )


async def find_public_referral_code(*, raw: str) -> ReferralCode | None:
    """A code looked up without its project; a code present in several projects is not guessed."""
    normalized = normalize_code(raw)
    if not normalized or len(normalized) > MAX_CODE_LENGTH:
        return None
    found = await ReferralCode.find({"code": normalized}).limit(2).to_list()
    return found[0] if len(found) == 1 else None


async def record_click(*, code: ReferralCode, ip: str, user_agent: str, secret_key: str) -> str:
    """Records the visit and returns the program's landing URL, with `ref=<code>` while the
    program runs."""
    campaign = await get_campaign(code.project_id, code.campaign_id)
    await ReferralClick(
        project_id=code.project_id,
        campaign_id=code.campaign_id,
        code_id=code.key,
        ip_hash=hash_ip(ip=ip, secret_key=secret_key),
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
        return landing_with_ref(landing_url=landing, code=None)
    return landing_with_ref(landing_url=landing, code=code.code)
