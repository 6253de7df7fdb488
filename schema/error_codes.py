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
    WebhookError: ("WebhookError", "createWebhook"),
}

ERROR_CODE_TYPES: list[Any] = [
    strawberry.enum(
        kind, name=name, description=f"Values of UserError.code returned by {operations}."
    )
    for kind, (name, operations) in _DOCUMENTED.items()
]
ERROR_CODE_TYPE_NAMES = [name for name, _ in _DOCUMENTED.values()]

USER_ERROR_CODE_DESCRIPTION = (
    "What went wrong, stable for clients to switch on: a value of one of the enums "
    + ", ".join(ERROR_CODE_TYPE_NAMES)
    + "."
)
