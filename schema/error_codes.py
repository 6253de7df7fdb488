"""The error code enums as GraphQL enum types: what `UserError.code` can be, per feature."""

from typing import Any

import strawberry

from delivery.errors import DeliveryError
from delivery.rendering.errors import RenderingError
from domain.automation_errors import AutomationError
from domain.campaigns.errors import CampaignError
from domain.code_errors import CodeError
from domain.customers import CustomerError
from domain.errors import CommonError, ErrorCode
from domain.event_models import EventError
from domain.experiments.errors import ExperimentError
from domain.import_errors import DataImportError
from domain.loyalty_errors import LoyaltyError
from domain.messages import MessageError
from domain.orders import OrderError
from domain.projects import ProjectError
from domain.redemptions.errors import RedemptionError
from domain.redemptions.reasons import Reason
from domain.referrals.errors import ReferralError
from domain.segments.errors import SegmentError
from domain.templates import TemplateError
from domain.webhooks import WebhookError
from schema.described_enums import describe_values

# GraphQL name and the operations that return the codes; no field returns these types (the wire
# keeps `code: String`), they are in the schema so that clients can generate a switch over them.
_DOCUMENTED: dict[type[ErrorCode], tuple[str, str]] = {
    CommonError: ("CommonError", "any mutation or query whose input or target can be wrong"),
    CustomerError: ("CustomerError", "createCustomer, updateCustomer, eraseCustomer, lookups"),
    CampaignError: ("CampaignError", "createCampaign and updateCampaign"),
    CodeError: ("CodeError", "generateCodes, publishCode and createCampaign (code patterns)"),
    RedemptionError: ("RedemptionError", "redeemCode and rollbackRedemption"),
    Reason: ("RedemptionReason", "redeemCode, and validateCode's reasons"),
    OrderError: ("OrderError", "recordOrder and updateOrderStatus"),
    ReferralError: ("ReferralError", "referralLink and applyReferralCode"),
    LoyaltyError: ("LoyaltyError", "the loyalty mutations: programs, rewards, exchangePoints"),
    SegmentError: ("SegmentError", "the segment mutations and queries"),
    ExperimentError: ("ExperimentError", "the experiment mutations and publishCode (HOLDOUT)"),
    AutomationError: ("AutomationError", "the automation mutations"),
    DataImportError: ("DataImportError", "importCustomers, importOrders and their row problems"),
    EventError: ("EventError", "trackEvent and automation triggers naming an event"),
    ProjectError: ("ProjectError", "createApiKey, revokeApiKey and the project mutations"),
    TemplateError: ("TemplateError", "the template mutations"),
    RenderingError: ("RenderingError", "the template mutations, previews and sendMessage"),
    MessageError: ("MessageError", "sendMessage"),
    DeliveryError: ("DeliveryError", "sendMessage, distributeCampaign and testMessaging"),
    WebhookError: (
        "WebhookError",
        "createWebhook, pauseWebhook, resumeWebhook and deleteWebhook",
    ),
}

# What each code means, shown on its enum value. A code added to a feature's enum without a line
# here fails tests/schema/test_descriptions.py.
CODE_MEANINGS: dict[ErrorCode, str] = {
    CommonError.NOT_FOUND: "The id or code names nothing in the caller's project.",
    CommonError.INVALID: "The value breaks a rule of its field; the message says which.",
    CommonError.REQUIRED: "A value this operation needs was not given.",
    CommonError.ERASED: "The customer was erased: its data is gone and it takes no new activity.",
    CommonError.BUSY: "Another request changed the same record at the same time; retry.",
    CommonError.RATE_LIMITED: "Too many attempts from this API key or client address; retry "
    "after the seconds in the error's retryAfter extension.",
    CommonError.INVALID_CURSOR: "The `after` cursor was not returned by this list.",
    CommonError.INVALID_CHARACTERS: "Text holds control characters (or a line break where one "
    "line is expected); `field` is the argument path.",
    CommonError.INVALID_VALUE: "A value cannot be stored: an integer beyond 64 bits, or an "
    "attribute key that is empty, starts with `$` or holds a dot.",
    CommonError.INVALID_CURRENCY: "The currency is not a three-letter ISO 4217 code.",
    CommonError.CURRENCY_MISMATCH: "Amounts in one request (or against the campaign) use "
    "different currencies.",
    CommonError.TOO_LARGE: "A text or list is longer than its limit; the message gives the limit.",
    CommonError.INVALID_TIMEZONE: "The time zone is not an IANA zone name such as Europe/Paris.",
    CommonError.INVALID_TIME: "A time of day is not written HH:MM from 00:00 to 23:59.",
    CommonError.INVALID_CHANNEL: "The channel is not EMAIL or SMS, or has no consent.",
    CommonError.INVALID_POINTS: "A number of points is zero, negative or above its limit.",
    CommonError.INVALID_DAYS: "A number of days is outside its allowed range.",
    CommonError.IDEMPOTENCY_KEY_REUSED: "The idempotency key was already used for a request "
    "with other arguments.",
    CommonError.CAMPAIGN_ENDED: "The campaign has ended and takes no new codes or activity.",
    CommonError.CAMPAIGN_NOT_DISCOUNT: "Only DISCOUNT campaigns have codes to generate, publish "
    "or redeem.",
    CommonError.NOT_LOYALTY: "The campaign is not a LOYALTY program.",
    CommonError.CODE_SPACE_EXHAUSTED: "No unused code could be made: make the campaign's codes "
    "longer.",
    CustomerError.ALREADY_ERASED: "The customer was already erased.",
    CustomerError.CUSTOMER_AMBIGUOUS: "The lookup (such as an email) matches several customers; "
    "look up by id or sourceId.",
    CustomerError.CUSTOMER_NOT_FOUND: "No customer of the project matches the lookup.",
    CustomerError.DUPLICATE_SOURCE_ID: "Another customer of the project has this sourceId.",
    CustomerError.INVALID_EMAIL: "The email address is not valid.",
    CustomerError.INVALID_PHONE: "The phone number is not a valid E.164 number.",
    CampaignError.DUPLICATE_CODE: "The standalone code is already used in the project.",
    CampaignError.IMMUTABLE: "The field cannot change after the campaign was created "
    "(standaloneCode).",
    CampaignError.INVALID_AFFIX: "A code prefix or suffix is too long or holds other characters "
    "than letters, digits and dashes (NUMERIC codes: a digit prefix, no suffix).",
    CampaignError.INVALID_AMOUNT: "A money amount is out of range: amountOff above 0, fixedPrice "
    "and minOrder 0 or more.",
    CampaignError.INVALID_CODE: "A standalone code is not 3 to 64 letters, digits or underscores.",
    CampaignError.INVALID_CODE_LENGTH: "The code length is out of range (NUMERIC: 12 to 16 "
    "digits, check digit and prefix included).",
    CampaignError.INVALID_CODE_MODE: "The code mode is not ALPHANUMERIC or NUMERIC.",
    CampaignError.INVALID_DAY_OF_WEEK: "A day of week is not 1 (Monday) to 7 (Sunday).",
    CampaignError.INVALID_DISCOUNT_TYPE: "The discount type is not one of DiscountType.",
    CampaignError.INVALID_HOUR: "An hour in rules.hours is not 0 to 23.",
    CampaignError.INVALID_KIND: "The campaign kind is not one of CampaignKind.",
    CampaignError.INVALID_LIMIT: "A limit is not a positive whole number or null.",
    CampaignError.INVALID_PATTERN: "The code pattern is not valid for the code mode.",
    CampaignError.INVALID_PERCENT: "percentOff is not more than 0 and at most 100.",
    CampaignError.INVALID_REWARD: "A referral reward is not a discount or loyalty points "
    "(exactly one).",
    CampaignError.INVALID_SCOPE: "The discount scope does not fit the discount type.",
    CampaignError.INVALID_URL: "The landing URL is not an http(s) address.",
    CampaignError.INVALID_WINDOW: "endsAt is not after startsAt.",
    CampaignError.LUHN_NEEDS_NUMERIC: "A Luhn check digit needs NUMERIC codes.",
    CampaignError.NOT_APPLICABLE: "The setting belongs to another campaign kind or discount type.",
    CampaignError.SCOPE_NEEDS_ITEMS: "An ELIGIBLE_ITEMS discount needs rules.skus or "
    "rules.categories.",
    CampaignError.WRONG_CAMPAIGN_KIND: "The campaign is not of the kind this operation needs.",
    CodeError.CODE_SPACE_TOO_SMALL: "The codes would use more than 1% of the possible codes, "
    "which makes them guessable; use longer codes or fewer.",
    CodeError.INVALID_CHARSET: "The code alphabet is not valid for the code mode (NUMERIC: 0-9).",
    CodeError.INVALID_COUNT: "The number of codes to generate is out of range.",
    CodeError.NO_CODE: "No code could be published to the customer.",
    CodeError.STANDALONE_CAMPAIGN: "The campaign uses one standalone code and has no generated "
    "codes.",
    CodeError.STANDALONE_CODE_TAKEN: "The campaign's standalone code belongs to another campaign.",
    RedemptionError.ALREADY_ROLLED_BACK: "The redemption was already rolled back.",
    RedemptionError.NOT_COMPLETED: "The redemption has not completed yet and cannot be rolled "
    "back.",
    RedemptionError.REDEMPTION_EXPIRED: "The redemption took too long and was cancelled; retry.",
    RedemptionError.API_KEY_REVOKED: "The API key was revoked while the redemption ran (in "
    "another process); nothing was redeemed.",
    RedemptionError.REDEMPTION_IN_PROGRESS: "A request with this idempotency key is still in "
    "progress; retry later.",
    Reason.NOT_FOUND: "No such code in the project.",
    Reason.CAMPAIGN_NOT_DISCOUNT: "The code's campaign does not give a discount.",
    Reason.NOT_STARTED: "The campaign has not started yet (before startsAt).",
    Reason.EXPIRED: "The campaign has ended (after endsAt, or ENDED).",
    Reason.PAUSED: "The campaign is paused.",
    Reason.OUTSIDE_HOURS: "The code is not valid on this day of week or hour (project time zone).",
    Reason.CODE_LIMIT_REACHED: "The code was redeemed as often as its limit allows.",
    Reason.CUSTOMER_LIMIT_REACHED: "The customer redeemed this campaign as often as allowed.",
    Reason.CAMPAIGN_LIMIT_REACHED: "The campaign has no redemptions left.",
    Reason.DAILY_LIMIT_REACHED: "The campaign has no redemptions left today.",
    Reason.CUSTOMER_REQUIRED: "The campaign needs a customer with the redemption.",
    Reason.CUSTOMER_NOT_FOUND: "The customer given is not in the project.",
    Reason.NOT_ASSIGNED_TO_CUSTOMER: "The code was published to another customer.",
    Reason.NOT_FIRST_ORDER: "The campaign is for a customer's first order only.",
    Reason.TAG_NOT_MATCHED: "The customer has none of the campaign's required tags.",
    Reason.ATTRIBUTES_NOT_MATCHED: "The customer's attributes do not match the campaign's rules.",
    Reason.NOT_IN_SEGMENT: "The customer is in none of the campaign's segments.",
    Reason.CURRENCY_MISMATCH: "The order's currency is not the campaign's.",
    Reason.MIN_ORDER_NOT_MET: "The order total is below the campaign's minimum order.",
    Reason.NO_ELIGIBLE_ITEMS: "No item of the order is eligible for the discount.",
    OrderError.INVALID_STATUS: "The order status cannot be set to this value (PAID, CANCELLED "
    "or REFUNDED on record; CANCELLED or REFUNDED on update).",
    OrderError.ORDER_ALREADY_PAID: "The order is already PAID.",
    OrderError.ORDER_ALREADY_CANCELLED: "The order is already CANCELLED.",
    OrderError.ORDER_ALREADY_REFUNDED: "The order is already REFUNDED.",
    ReferralError.ALREADY_ORDERED: "Referral codes are for customers before their first order.",
    ReferralError.ALREADY_REFERRED: "The customer was already referred in this program.",
    ReferralError.NOT_REFERRAL: "The campaign is not a REFERRAL program.",
    ReferralError.PROGRAM_NOT_ACTIVE: "The referral program is not ACTIVE.",
    ReferralError.REFERRER_CAP_REACHED: "The referrer has brought as many customers as the "
    "program allows.",
    ReferralError.SELF_REFERRAL: "A customer cannot refer themselves.",
    LoyaltyError.CAMPAIGN_NOT_ACTIVE: "The loyalty program is not ACTIVE.",
    LoyaltyError.DUPLICATE_EVENT: "An event name is listed twice in the program.",
    LoyaltyError.DUPLICATE_TIER: "A tier name is listed twice in the program.",
    LoyaltyError.EXCHANGE_IN_PROGRESS: "An exchange with this idempotency key is still in "
    "progress; retry later.",
    LoyaltyError.INSUFFICIENT_POINTS: "The card does not have enough points.",
    LoyaltyError.INVALID_EVENT: "An event is not valid (a name of 1 to 100 characters and its "
    "points).",
    LoyaltyError.INVALID_ROUNDING: "Rounding is not FLOOR or HALF_EVEN.",
    LoyaltyError.INVALID_TIER: "A tier is not valid (its name or threshold).",
    LoyaltyError.INVALID_TIER_BASIS: "tierBasis is not POINTS or SPENT, or SPENT lacks a currency.",
    LoyaltyError.UNKNOWN_EVENT: "The program gives no points for this event.",
    SegmentError.DUPLICATE_NAME: "A segment with this name already exists in the project.",
    SegmentError.FILTER_ON_STATIC: "A static segment has members, not a filter.",
    SegmentError.INVALID_FILTER: "The filter is missing or not a valid customer filter.",
    SegmentError.NOT_STATIC: "Members are added to and removed from static segments only.",
    SegmentError.SEGMENT_FULL: "The static segment would hold more members than allowed.",
    SegmentError.SEGMENT_IN_USE: "Campaigns target the segment; end them first.",
    SegmentError.UNKNOWN_CUSTOMER: "A customer id is not a customer of the project.",
    ExperimentError.ALREADY_PROMOTED: "A variant of the experiment was already promoted.",
    ExperimentError.DUPLICATE_KEY: "A variant key is used twice.",
    ExperimentError.EXPERIMENT_ALREADY_RUNNING: "Another experiment is running on this "
    "campaign: stop it first.",
    ExperimentError.EXPERIMENT_NOT_STARTED: "The experiment has not run, so it has no results "
    "to act on.",
    ExperimentError.EXPERIMENT_DRAFT: "Refused because the experiment is still a DRAFT.",
    ExperimentError.EXPERIMENT_RUNNING: "Refused because the experiment is RUNNING.",
    ExperimentError.EXPERIMENT_STOPPED: "Refused because the experiment is STOPPED.",
    ExperimentError.HOLDOUT: "The customer is in the experiment's holdout group and gets no code.",
    ExperimentError.INVALID_ALPHA: "alpha is not more than 0 and at most its maximum.",
    ExperimentError.INVALID_KEY: "A variant key is not 1 to 40 letters, digits, '-' or '_' "
    "starting with a letter or digit.",
    ExperimentError.INVALID_VARIANTS: "The number of variants is out of range.",
    ExperimentError.INVALID_WEIGHT: "A weight is not a whole number in range (0 for no holdout).",
    ExperimentError.NO_SIGNIFICANT_WINNER: "No variant is significantly better at the "
    "experiment's alpha; name a variantKey to promote one anyway.",
    ExperimentError.RESERVED_KEY: "The key 'holdout' names the holdout group.",
    ExperimentError.STANDALONE_CODE: "A code shared by everyone cannot carry a variant: "
    "experiments need unique codes.",
    ExperimentError.UNKNOWN_VARIANT: "The experiment has no variant with this key.",
    AutomationError.INVALID_ACTION: "The action is not valid (its type, template, campaign or "
    "points).",
    AutomationError.INVALID_CONDITIONS: "The conditions are not a valid JSON condition object.",
    AutomationError.INVALID_DELAY: "The delay is negative or longer than 365 days.",
    DataImportError.AMBIGUOUS_CUSTOMER: "The row's customer email matches several customers.",
    DataImportError.EMPTY_FILE: "The file holds no rows.",
    DataImportError.FILE_TOO_LARGE: "The file is larger than the import limit.",
    DataImportError.INVALID_DATE: "A date is not ISO 8601, is before 1970 or in the future.",
    DataImportError.INVALID_FILE: "The file is not UTF-8 text in the expected format.",
    DataImportError.TOO_MANY_ROWS: "The file holds more rows than one import allows.",
    DataImportError.UNKNOWN_COLUMN: "A column is not a field of this import.",
    DataImportError.UNKNOWN_CUSTOMER: "No customer has the row's customer sourceId or email.",
    DataImportError.UNKNOWN_FIELD: "A row names a field this import does not have.",
    DataImportError.UNREADABLE: "A row could not be read (broken JSON or CSV).",
    EventError.INVALID_EVENT_NAME: "An event name is not 1 to 64 lowercase letters, digits, "
    "'_' or '.', starting with a letter.",
    EventError.PROPERTIES_TOO_LARGE: "The event's properties are larger than allowed.",
    EventError.RESERVED_EVENT: "The event name is one Engage sends itself (such as "
    "order.recorded).",
    ProjectError.ALREADY_REVOKED: "The API key was already revoked.",
    TemplateError.BUILT_IN_TEMPLATE: "Built-in templates cannot be changed: create your own.",
    TemplateError.CONCURRENT_UPDATE: "The template kept changing while this update was checked; "
    "retry.",
    RenderingError.CHANNEL_MISMATCH: "The template is for the other channel.",
    RenderingError.CODE_REQUIRED: "The template shows a code, and none was given.",
    RenderingError.MISSING_OPT_OUT: "An SMS template does not end with how to opt out (such as "
    '"Reply STOP to opt out").',
    RenderingError.MISSING_UNSUBSCRIBE: "An email template's html does not link to "
    "{{ unsubscribe_url }}.",
    RenderingError.RENDER_FAILED: "The template failed to render with this data.",
    RenderingError.TEMPLATE_ERROR: "The template raised an error while rendering.",
    RenderingError.TEMPLATE_SYNTAX: "The template is not valid Jinja; the message gives the line.",
    RenderingError.UNKNOWN_VARIABLE: "The template uses a variable or attribute that does not "
    "exist; the message lists those that do.",
    RenderingError.UNSAFE_TEMPLATE: "The template uses what the sandbox forbids (loading other "
    "templates, private attributes).",
    MessageError.INVALID_IDEMPOTENCY_KEY: "The idempotency key is empty or longer than 200 "
    "characters.",
    DeliveryError.CODE_NOT_PUBLISHED: "The code was not published to this customer: publish it "
    "first (publishCode), so its use is tracked.",
    DeliveryError.CODE_OF_ANOTHER_CUSTOMER: "The code belongs to another customer.",
    DeliveryError.INVALID_CHANNELS: "Channels are not EMAIL, SMS or both, each once.",
    DeliveryError.NO_ADDRESS: "The customer has no email address or phone number for the channel.",
    DeliveryError.SMS_TOO_LONG: "The SMS needs more segments than allowed.",
    DeliveryError.SANDBOX: "The project is a sandbox: messages go to the sink, never out.",
    DeliveryError.NO_EMAIL_PROVIDER: "No SMTP server is set for the project or installation.",
    DeliveryError.NO_SMS_PROVIDER: "No Twilio account is set for the project or installation.",
    DeliveryError.NO_PROVIDER: "No provider is set for the channel.",
}


# Codes whose name another feature also uses with another meaning (CODE_MEANINGS is keyed by
# value, so equal names share one line there).
MEANINGS_OF_KIND: dict[type[ErrorCode], dict[str, str]] = {
    WebhookError: {
        "INVALID_URL": "The webhook URL is not an absolute http(s) address.",
        "PRIVATE_ADDRESS": "In production the webhook URL cannot name a loopback, private, "
        "link-local or reserved address, or a local host name.",
        "UNKNOWN_EVENT": "An event type is not one of webhookEventTypes.",
        "NO_EVENTS": "A webhook must subscribe to at least one event type.",
        "INVALID_SECRET": "The secret is not whsec_ followed by the base64 of 24 to 64 random "
        "bytes; leave it out to have one made.",
        "TOO_MANY_WEBHOOKS": "The project already has 20 webhooks, the most it may have.",
    },
}


def _documented_enum(kind: type[ErrorCode], name: str, operations: str) -> Any:
    graphql_enum = strawberry.enum(
        kind, name=name, description=f"Values of UserError.code returned by {operations}."
    )
    meanings = {code.name: CODE_MEANINGS[code] for code in kind if code in CODE_MEANINGS}
    meanings.update(MEANINGS_OF_KIND.get(kind, {}))
    describe_values(graphql_enum, meanings)
    return graphql_enum


ERROR_CODE_TYPES: list[Any] = [
    _documented_enum(kind, name, operations) for kind, (name, operations) in _DOCUMENTED.items()
]
ERROR_CODE_TYPE_NAMES = [name for name, _ in _DOCUMENTED.values()]

USER_ERROR_CODE_DESCRIPTION = (
    "What went wrong, stable for clients to switch on: a value of one of the enums "
    + ", ".join(ERROR_CODE_TYPE_NAMES)
    + "."
)
