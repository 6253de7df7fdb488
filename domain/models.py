"""Every Beanie document model, registered with init_beanie at start-up."""

from beanie import Document

from domain.analytics import ValidationCounter
from domain.audit import AuditEntry
from domain.automation import Automation, AutomationRun, ScheduledAction
from domain.campaigns import Campaign
from domain.codes import Code, CodeAssignment
from domain.consent import Suppression
from domain.console import ConsoleSession, ConsoleUser
from domain.customers import Customer, CustomerToken
from domain.events import CustomerEvent, EventSweep
from domain.experiments import Experiment, ExperimentAssignment
from domain.import_files import ImportChunk
from domain.imports import ImportRowError
from domain.jobs import Job
from domain.loyalty import Exchange, LedgerEntry, LoyaltyCard, Reward
from domain.messages import Message
from domain.orders import Order
from domain.projects import ApiKey, Project
from domain.rate_limits import RateLimitWindow
from domain.redemptions import CustomerRedemptionCounter, DailyRedemptionCounter, Redemption
from domain.referrals import Referral, ReferralClick, ReferralCode
from domain.rfm import RfmSchedule
from domain.segments import Segment, SegmentMember
from domain.service_leases import ServiceLease
from domain.templates import MessageTemplate
from domain.wallet import PassLog, PassRegistration, WalletPass
from domain.webhooks import Webhook, WebhookAttempt, WebhookDelivery, WebhookNotice


def document_models() -> list[type[Document]]:
    return [
        Project,
        ApiKey,
        Customer,
        CustomerToken,
        AuditEntry,
        Campaign,
        Code,
        CodeAssignment,
        Redemption,
        CustomerRedemptionCounter,
        DailyRedemptionCounter,
        Job,
        ImportChunk,
        ImportRowError,
        LoyaltyCard,
        LedgerEntry,
        Reward,
        Exchange,
        Order,
        ReferralCode,
        ReferralClick,
        Referral,
        Message,
        WalletPass,
        PassRegistration,
        PassLog,
        MessageTemplate,
        Suppression,
        ValidationCounter,
        Segment,
        SegmentMember,
        RfmSchedule,
        CustomerEvent,
        EventSweep,
        Automation,
        ScheduledAction,
        AutomationRun,
        Experiment,
        ExperimentAssignment,
        RateLimitWindow,
        ServiceLease,
        ConsoleUser,
        ConsoleSession,
        Webhook,
        WebhookDelivery,
        WebhookAttempt,
        WebhookNotice,
    ]
