"""The referral program form: posted fields read into the ReferralConfigInput createCampaign
and updateCampaign take, and a stored program written back into fields. Inputs are named after
the API's field paths ("referral.holdDays") so that an error's field finds its input."""

from decimal import Decimal, InvalidOperation

from starlette.datastructures import FormData

from domain.campaigns import Campaign, ReferralConfigInput, ReferrerRewardInput
from domain.common import Money, minor_unit_digits
from domain.errors import CommonError, Problem

REWARD = "referral.referrerReward"
FIELDS = (
    "name",
    "referral.landingUrl",
    "referral.welcomeCampaignId",
    f"{REWARD}.discountCampaignId",
    f"{REWARD}.loyaltyCampaignId",
    f"{REWARD}.points",
    "referral.minOrder",
    "currency",
    "referral.holdDays",
    "referral.maxReferralsPerReferrer",
)
# Where errors about the reward as a whole (a code and points both chosen) are shown.
GROUPS = (REWARD,)


def read_values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name) or "").strip() for name in FIELDS}


def _whole(text: str) -> int | None:
    try:
        return int(text.replace(",", "").replace("_", "").replace(" ", ""))
    except ValueError:
        return None


class _GivenMoney:
    """An amount as typed, in minor units; the domain checks the currency."""

    def __init__(self, amount: int, currency: str) -> None:
        self.amount = amount
        self.currency = currency


def referral_input(values: dict[str, str]) -> tuple[ReferralConfigInput, list[Problem]]:
    """The ReferralConfigInput the form stands for, and problems of inputs that could not be
    read (the domain checks the rest, with the API's errors). Empty fields mean none."""
    problems: list[Problem] = []

    def whole(name: str, code: CommonError) -> int | None:
        if not values[name]:
            return None
        number = _whole(values[name])
        if number is None:
            problems.append(Problem(code, "enter a whole number", name))
        return number

    min_order: _GivenMoney | None = None
    if values["referral.minOrder"]:
        currency = values["currency"].upper()
        digits = minor_unit_digits(currency) if len(currency) == 3 else 2
        try:
            amount = Decimal(values["referral.minOrder"].replace(",", ".")) * 10**digits
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount != amount.to_integral_value():
            problems.append(
                Problem(CommonError.INVALID, "enter an amount such as 20.00", "referral.minOrder")
            )
        else:
            min_order = _GivenMoney(int(amount), currency)
    data = ReferralConfigInput(
        landing_url=values["referral.landingUrl"],
        welcome_campaign_id=values["referral.welcomeCampaignId"],
        referrer_reward=ReferrerRewardInput(
            discount_campaign_id=values[f"{REWARD}.discountCampaignId"] or None,
            loyalty_campaign_id=values[f"{REWARD}.loyaltyCampaignId"] or None,
            points=whole(f"{REWARD}.points", CommonError.INVALID_POINTS),
        ),
        min_order=min_order,
        hold_days=whole("referral.holdDays", CommonError.INVALID_DAYS) or 0,
        max_referrals_per_referrer=whole("referral.maxReferralsPerReferrer", CommonError.INVALID),
    )
    return data, problems


def form_field(api_field: str | None) -> str | None:
    if api_field is None:
        return None
    if api_field in FIELDS or api_field in GROUPS:
        return api_field
    if api_field.startswith("referral.minOrder"):
        return "referral.minOrder"
    parent = api_field.rsplit(".", 1)[0]
    return parent if parent in FIELDS or parent in GROUPS else None


def on_inputs(problems: list[Problem]) -> list[Problem]:
    return [Problem(p.code, p.message, form_field(p.field)) for p in problems]


def _amount(value: Money | None) -> str:
    if value is None:
        return ""
    digits = minor_unit_digits(value.currency)
    return str(Decimal(value.amount).scaleb(-digits)) if digits else str(value.amount)


def new_values() -> dict[str, str]:
    return {**{name: "" for name in FIELDS}, "currency": "EUR", "referral.holdDays": "0"}


def program_values(campaign: Campaign) -> dict[str, str]:
    values = new_values()
    values["name"] = campaign.name
    config = campaign.referral
    if config is None:
        return values
    reward = config.referrer_reward
    values.update(
        {
            "referral.landingUrl": config.landing_url,
            "referral.welcomeCampaignId": config.welcome_campaign_id,
            f"{REWARD}.discountCampaignId": reward.discount_campaign_id,
            f"{REWARD}.loyaltyCampaignId": reward.loyalty_campaign_id,
            f"{REWARD}.points": str(reward.points) if reward.points else "",
            "referral.minOrder": _amount(config.min_order),
            "currency": config.min_order.currency if config.min_order else "EUR",
            "referral.holdDays": str(config.hold_days),
            "referral.maxReferralsPerReferrer": ""
            if config.max_referrals_per_referrer is None
            else str(config.max_referrals_per_referrer),
        }
    )
    return values
